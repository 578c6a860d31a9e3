import { useState } from 'preact/hooks';
import { ADMIN_LEVEL, MODERATOR_LEVEL, type RoleName, roleOf } from '../../server/content/power-levels.ts';

/**
 * A power level as a role: Admin (100), Moderator (50), Default (the room's level for
 * members) or Custom (a number field appears). `max`: levels above it are not offered
 * (nobody can grant more than they have).
 */
export function RoleSelect(props: {
  label: string;
  level: number;
  usersDefault: number;
  onChange: (level: number) => void;
  max?: number;
  disabled?: boolean;
  /** Whether the Custom number field is drawn here (rows that have their own number field say no). */
  customField?: boolean;
  /** Custom levels are not offered here (the current one is still shown). */
  noCustom?: boolean;
}) {
  const [custom, setCustom] = useState(false);
  const role: RoleName = custom ? 'Custom' : roleOf(props.level, props.usersDefault);
  const max = props.max ?? Number.POSITIVE_INFINITY;
  const pick = (value: string) => {
    if (value === 'Custom') return setCustom(true);
    setCustom(false);
    props.onChange(value === 'Admin' ? ADMIN_LEVEL : value === 'Moderator' ? MODERATOR_LEVEL : props.usersDefault);
  };
  return (
    <span class="role-select">
      <select aria-label={props.label} value={role} disabled={props.disabled} onChange={(e) => pick(e.currentTarget.value)}>
        <option value="Admin" disabled={ADMIN_LEVEL > max}>
          Admin (100)
        </option>
        <option value="Moderator" disabled={MODERATOR_LEVEL > max}>
          Moderator (50)
        </option>
        <option value="Default" disabled={props.usersDefault > max}>
          Default ({props.usersDefault})
        </option>
        <option value="Custom" disabled={props.noCustom && role !== 'Custom'}>
          {role === 'Custom' ? `Custom (${props.level})` : 'Custom…'}
        </option>
      </select>
      {role === 'Custom' && props.customField !== false && (
        <input
          type="number"
          aria-label={`${props.label}: level`}
          value={props.level}
          max={Number.isFinite(max) ? max : undefined}
          disabled={props.disabled}
          onInput={(e) => props.onChange(Number(e.currentTarget.value) || 0)}
        />
      )}
    </span>
  );
}
