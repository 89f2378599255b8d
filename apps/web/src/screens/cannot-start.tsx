/** Shown instead of the app when it cannot open its storage or the SDK (e.g. a private window). */

export function CannotStart(props: { message: string }) {
  return (
    <main className="onboarding">
      <h1>Parley cannot start</h1>
      <p role="alert">{props.message}</p>
      <p>
        Parley keeps its keys in this browser’s storage (IndexedDB); private windows may not allow
        it.
      </p>
    </main>
  );
}
