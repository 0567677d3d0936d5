import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import {
  POLICY_GROUP_FIELDS,
  type PolicyGroup,
  type ValidationIssue,
  validatePolicyGroup,
} from '@appdefender/policy';
import { parseDocument } from 'yaml';
import { CliError, ExitCode, type FieldProblem, NotFoundError, ValidationError } from '../errors.js';

export interface LoadedPolicies {
  path: string;
  policies: PolicyGroup[];
  /** Warnings from the validator (valid, but probably not what was meant). */
  warnings: FieldProblem[];
}

const withSuggestion = (issue: ValidationIssue, prefix: string): FieldProblem => ({
  field: `${prefix}${issue.field || '(policy)'}`,
  message: issue.suggestion ? `${issue.message} (${issue.suggestion})` : issue.message,
});

/** Parses YAML or JSON (by extension; otherwise JSON first, then YAML) and reports syntax errors with a line. */
export function parsePolicyText(text: string, path: string): unknown {
  const extension = extname(path).toLowerCase();
  if (extension === '.json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ValidationError(`${path} is not valid JSON`, [
        { field: '(file)', message: (error as Error).message },
      ]);
    }
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ValidationError(
      `${path} is not valid ${extension === '.yaml' || extension === '.yml' ? 'YAML' : 'YAML or JSON'}`,
      document.errors.map((error) => ({
        field: error.linePos ? `line ${error.linePos[0].line}` : '(file)',
        message: error.message.split('\n')[0] ?? error.message,
      })),
    );
  }
  return document.toJS();
}

/**
 * Reads a policy file holding one policy group, or a list of them, and validates every group
 * with the policy engine: all problems at once, each naming its field.
 */
export async function loadPolicyFile(path: string): Promise<LoadedPolicies> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`No such policy file: ${path}`);
    throw new CliError(
      'FILE_UNREADABLE',
      ExitCode.failure,
      `Cannot read ${path}: ${(error as Error).message}`,
    );
  }
  const document = parsePolicyText(text, path);
  const items = Array.isArray(document) ? document : [document];
  if (items.length === 0) throw new ValidationError(`${path} holds an empty list`, []);
  const policies: PolicyGroup[] = [];
  const errors: FieldProblem[] = [];
  const warnings: FieldProblem[] = [];
  items.forEach((item, index) => {
    const prefix = Array.isArray(document) ? `[${index}].` : '';
    const result = validatePolicyGroup(item);
    warnings.push(...result.warnings.map((issue) => withSuggestion(issue, prefix)));
    if (result.ok) policies.push(result.policy);
    else errors.push(...result.errors.map((issue) => withSuggestion(issue, prefix)));
  });
  if (errors.length > 0) {
    throw new ValidationError(`${path} is not a valid policy group`, errors);
  }
  const names = policies.map((policy) => policy.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new ValidationError(`${path} defines the policy group "${duplicate}" twice`, [
      { field: 'name', message: `"${duplicate}" appears more than once` },
    ]);
  }
  return { path, policies, warnings };
}

/** Keeps only policy group fields (drops server bookkeeping such as version and updatedAt). */
export function policyFields(value: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const field of POLICY_GROUP_FIELDS) if (field in value) result[field] = value[field];
  return result;
}
