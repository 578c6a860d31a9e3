import { dialog } from '../state/store.ts';
import { CreateRoomDialog } from './CreateRoomDialog.tsx';
import { OtherClientsDialog } from './OtherClientsDialog.tsx';
import { DmDialog } from './DmDialog.tsx';
import { ExploreDialog } from './ExploreDialog.tsx';
import { GraphDialog } from './GraphDialog.tsx';
import { InviteDialog } from './InviteDialog.tsx';
import { JoinDialog } from './JoinDialog.tsx';
import { ProfileDialog } from './ProfileDialog.tsx';
import { RoomSettingsDialog } from './RoomSettingsDialog.tsx';

/** The one open dialog, if any. */
export function Dialogs() {
  switch (dialog.value) {
    case 'create':
      return <CreateRoomDialog />;
    case 'invite':
      return <InviteDialog />;
    case 'settings':
      return <RoomSettingsDialog />;
    case 'join':
      return <JoinDialog />;
    case 'explore':
      return <ExploreDialog />;
    case 'dm':
      return <DmDialog />;
    case 'graph':
      return <GraphDialog />;
    case 'clients':
      return <OtherClientsDialog />;
    case 'profile':
      return <ProfileDialog />;
    default:
      return null;
  }
}
