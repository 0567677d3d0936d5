import { useEffect, useState } from 'react';

/** Copies `text` to the clipboard and says so; falls back to a hint where the clipboard is refused. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      className="button small copy-button"
      onClick={() => {
        navigator.clipboard
          ?.writeText(text)
          .then(() => setState('copied'))
          .catch(() => setState('failed'));
      }}
    >
      <span aria-live="polite">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy' : label}
      </span>
    </button>
  );
}
