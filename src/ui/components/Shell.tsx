import { currentRoomId, sidePanel } from '../state/store.ts';
import { ChatLinkBanner } from './ChatLinkBanner.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { Dialogs } from './Dialogs.tsx';
import { MembersPanel } from './MembersPanel.tsx';
import { NetworkPanel } from './NetworkPanel.tsx';
import { RoomList } from './RoomList.tsx';
import { RoomView } from './RoomView.tsx';
import { SourceDialog } from './SourceDialog.tsx';
import { ThreadListPanel } from './ThreadListPanel.tsx';
import { ThreadPanel } from './ThreadPanel.tsx';
import { VerificationCenter } from './VerifyDialog.tsx';
import { Welcome } from './Welcome.tsx';

/** The signed-in layout: room list, the open room (or a welcome), a side panel. */
export function Shell() {
  const panel = sidePanel.value;
  const inRoom = currentRoomId.value !== null;
  return (
    <div class={`shell ${inRoom ? 'in-room' : ''} ${panel !== 'none' ? 'with-panel' : ''}`}>
      <RoomList />
      <main class="main" id="main">
        <ChatLinkBanner />
        {inRoom ? <RoomView /> : <Welcome />}
      </main>
      {panel === 'network' && <NetworkPanel />}
      {panel === 'members' && inRoom && <MembersPanel />}
      {panel === 'thread' && inRoom && <ThreadPanel />}
      {panel === 'threads' && inRoom && <ThreadListPanel />}
      <Dialogs />
      <ConfirmDialog />
      <SourceDialog />
      <VerificationCenter />
    </div>
  );
}
