// Typed errors. Each says what was expected and what was found, so a user can fix the input.

export type OvercommitErrorCode =
  | "INVALID_ARGUMENT"
  | "UNKNOWN_VM"
  | "GPN_OUT_OF_RANGE"
  | "IMAGE_FORMAT"
  | "OUT_OF_FRAMES"
  | "MACHINE_TOO_LARGE"
  | "BALLOONED_PAGE"
  | "NEEDS_BYTES"
  | "SWAP_IO"
  | "CORE_FAILURE"
  | "DISPOSED";

export class OvercommitError extends Error {
  readonly code: OvercommitErrorCode;
  constructor(code: OvercommitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OvercommitError";
    this.code = code;
  }
}

/** A value that is not what the API accepts (wrong type, range, size). */
export class InvalidArgumentError extends OvercommitError {
  constructor(message: string, code: OvercommitErrorCode = "INVALID_ARGUMENT") {
    super(code, message);
    this.name = "InvalidArgumentError";
  }
}

/** A memory image whose size or content is not what was expected. */
export class ImageFormatError extends OvercommitError {
  readonly file: string;
  constructor(file: string, message: string) {
    super("IMAGE_FORMAT", `${file}: ${message}`);
    this.name = "ImageFormatError";
    this.file = file;
  }
}

/** Every machine frame is in use: the policy layer must reclaim memory (balloon, compress, swap). */
export class OutOfFramesError extends OvercommitError {
  constructor(message: string) {
    super("OUT_OF_FRAMES", message);
    this.name = "OutOfFramesError";
  }
}

/** Reading or writing a VM's swap file failed. */
export class SwapIoError extends OvercommitError {
  constructor(message: string, cause?: unknown) {
    super("SWAP_IO", message, { cause });
    this.name = "SwapIoError";
  }
}
