/*
 * The browser's view of @amend/constitution: the schema, the validator with its located,
 * author-facing errors, and the YAML parser, from the same files the server uses.
 */
export { ConstitutionSchema, PrincipleSchema, type Constitution, type Principle } from '../../../../libs/constitution/src/schema';
export { ConstitutionError, type ConstitutionIssue } from '../../../../libs/constitution/src/errors';
export { validateConstitution } from '../../../../libs/constitution/src/validate';
export { parseConstitutionYaml } from '../../../../libs/constitution/src/loader';
