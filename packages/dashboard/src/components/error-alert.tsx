/** A failure message, announced to screen readers; renders nothing while there is none. */
export function ErrorAlert({ message }: { message: string | null | undefined }) {
  return message ? (
    <p className="form-error" role="alert">
      {message}
    </p>
  ) : null;
}
