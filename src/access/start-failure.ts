import { PinacledError } from '../errors.js';

/**
 * The engine reports an exec it could not start (unknown user, missing working directory) as
 * exit code 126 with its reason as output. Those are the request's fault: a 400 naming the field.
 */
export function startFailure(exitCode: number | null, output: string): PinacledError | undefined {
  if (exitCode !== 126) return undefined;
  if (/unable to find (user|group)|no matching entries in (passwd|group)/i.test(output)) {
    return new PinacledError('PINACLED_ERR_VALIDATION', 'The user does not exist in the pod', { fields: [{ field: 'user', message: 'no such user in the pod' }] });
  }
  if (/initial working directory|chdir/i.test(output) && /no such file|not a directory/i.test(output)) {
    return new PinacledError('PINACLED_ERR_VALIDATION', 'The working directory does not exist in the pod', { fields: [{ field: 'workdir', message: 'no such directory in the pod' }] });
  }
  return undefined;
}
