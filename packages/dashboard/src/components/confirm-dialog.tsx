import { type ReactNode, useEffect, useId, useRef } from 'react';
import { ErrorAlert } from './error-alert.js';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** Shown on the confirm button while `busy`. */
  busyLabel?: string;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
}

/**
 * Asks before something that cannot be undone. A native modal <dialog>: focus stays inside,
 * Escape cancels, and focus returns to the button that opened it. Cancel has the focus first, so
 * a stray Enter never confirms.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  busyLabel,
  busy = false,
  error,
  onConfirm,
  onCancel,
}: ConfirmDialogProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const bodyId = useId();

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      cancelRef.current?.focus();
    }
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <dialog
      ref={dialogRef}
      className="confirm-dialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      // Escape closes the element natively (browsers may refuse to cancel that); follow it.
      onClose={() => {
        if (open) onCancel();
      }}
    >
      {open && (
        <div className="confirm-panel">
          <h2 id={titleId}>{title}</h2>
          <div id={bodyId} className="confirm-body">
            {children}
          </div>
          <ErrorAlert message={error} />
          <div className="confirm-actions">
            <button ref={cancelRef} type="button" className="button" onClick={onCancel} disabled={busy}>
              Cancel
            </button>
            <button type="button" className="button danger-solid" onClick={onConfirm} disabled={busy}>
              {busy ? (busyLabel ?? confirmLabel) : confirmLabel}
            </button>
          </div>
        </div>
      )}
    </dialog>
  );
}
