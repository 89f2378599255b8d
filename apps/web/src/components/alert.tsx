/** A problem the user must see: announced at once by screen readers, nothing when there is none. */
export function Alert(props: { message: string | undefined; id?: string }) {
  if (!props.message) return null;
  return (
    <p id={props.id} className="field-error" role="alert">
      {props.message}
    </p>
  );
}
