import { diffWords } from 'diff';
import { useMemo } from 'react';

export interface WordChange {
  op: 'equal' | 'insert' | 'delete';
  text: string;
}

/** Word-level changes from `from` to `to`, as the constitution diff route gives them too. */
export function wordChanges(from: string, to: string): WordChange[] {
  return diffWords(from, to).map((c) => ({ op: c.added ? 'insert' : c.removed ? 'delete' : 'equal', text: c.value }));
}

export function Words({ words }: { words: WordChange[] }) {
  return (
    <div className="text diff">
      {words.map((w, i) => (w.op === 'insert' ? <ins key={i}>{w.text}</ins> : w.op === 'delete' ? <del key={i}>{w.text}</del> : <span key={i}>{w.text}</span>))}
    </div>
  );
}

export function WordDiff({ from, to }: { from: string; to: string }) {
  const words = useMemo(() => wordChanges(from, to), [from, to]);
  const inserted = words.filter((w) => w.op === 'insert').reduce((n, w) => n + w.text.split(/\s+/).filter(Boolean).length, 0);
  const deleted = words.filter((w) => w.op === 'delete').reduce((n, w) => n + w.text.split(/\s+/).filter(Boolean).length, 0);
  return (
    <div>
      <div className="diff-stats muted">
        <span className="ins-count">+{inserted}</span> <span className="del-count">−{deleted}</span> words
      </div>
      <Words words={words} />
    </div>
  );
}
