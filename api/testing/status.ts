// Test helpers for code that reports failures as a StatusError: the one place that unwraps the
// throw, so tests assert on the Status (code, reason, causes) rather than on try/catch plumbing.
import { StatusError } from '../errors.js';

/** The StatusError `fn` throws; rethrows anything else and fails when nothing is thrown. */
export function catchStatusError(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error('expected a StatusError');
}
