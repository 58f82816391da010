/** A recipe declaration is invalid; the message names the offending field. */
export class RecipeError extends Error {
  override readonly name = 'RecipeError';
}
