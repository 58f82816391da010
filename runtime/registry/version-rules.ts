import { compareVersions } from '../../recipes/version.ts';

/** What an upload of `incoming` does when `registered` is the stored version (if any). */
export type UploadDecision =
  | { readonly action: 'register' }
  | { readonly action: 'replace'; readonly from: string; readonly forced: boolean }
  | { readonly action: 'refuse'; readonly reason: string };

/** A new name registers, a strictly higher version replaces, anything else needs `force`. */
export function decideUpload(name: string, registered: string | undefined, incoming: string, force: boolean): UploadDecision {
  if (registered === undefined) return { action: 'register' };
  const cmp = compareVersions(incoming, registered);
  if (cmp > 0) return { action: 'replace', from: registered, forced: false };
  if (force) return { action: 'replace', from: registered, forced: true };
  const relation = cmp === 0 ? 'equal to' : 'lower than';
  return {
    action: 'refuse',
    reason: `'${name}' version ${registered} is registered; version ${incoming} is ${relation} it. Raise the version, or pass --force to replace it anyway`,
  };
}
