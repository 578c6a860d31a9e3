import type { DagNode, EventDetail } from '../api.ts';

/** The selected event's status, auth events (clickable) and JSON. */
export function EventInspector(props: { node: DagNode; detail: EventDetail; onSelect: (id: string) => void }) {
  const { node, detail } = props;
  return (
    <section class="inspector" aria-label="Selected event">
      <h3>
        {node.type} <span class={`status ${detail.status}`}>{detail.status}</span>
      </h3>
      {detail.reason && <p class="small-text">Reason: {detail.reason}</p>}
      {detail.redactedBy && <p class="small-text">Redacted by {detail.redactedBy}</p>}
      <h4>Auth events</h4>
      <ul class="plain-list small-text">
        {node.authEvents.map((a) => (
          <li key={a}>
            <button type="button" class="link-button mono" onClick={() => props.onSelect(a)}>
              {a}
            </button>
          </li>
        ))}
      </ul>
      <h4>JSON</h4>
      <pre class="json">{JSON.stringify(detail.event, null, 2)}</pre>
    </section>
  );
}
