/** The API could not be reached, or the connection broke (the request may or may not have been processed). */
export class EnsembleConnectionError extends Error {
  override readonly name = "EnsembleConnectionError";

  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
