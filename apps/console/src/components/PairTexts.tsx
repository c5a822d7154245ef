/** A pair's two answers as editable boxes, side by side: the review page and the workspace's edit. */
export function EditTexts(props: { chosen: string; rejected: string; onChosen: (v: string) => void; onRejected: (v: string) => void; rows: number }) {
  return (
    <div className="grid-2">
      <label className="field">
        <span className="field-label">Chosen</span>
        <textarea name="edit-chosen" rows={props.rows} value={props.chosen} onChange={(e) => props.onChosen(e.target.value)} />
      </label>
      <label className="field">
        <span className="field-label">Rejected</span>
        <textarea name="edit-rejected" rows={props.rows} value={props.rejected} onChange={(e) => props.onRejected(e.target.value)} />
      </label>
    </div>
  );
}
