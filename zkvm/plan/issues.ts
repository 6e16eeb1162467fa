import type { SourceLocation } from '../errors.js';
import type { PathSegment } from './source.js';

/** One problem found in a plan. `path` is the JSON path inside the plan document. */
export interface PlanIssue {
  code: string;
  message: string;
  path: PathSegment[];
  stepId?: string | undefined;
  location?: SourceLocation | undefined;
}

/** Collects issues; the validator locates them in the source text afterwards. */
export class IssueList {
  readonly items: PlanIssue[] = [];
  add(code: string, message: string, path: PathSegment[], stepId?: string): void {
    this.items.push({ code, message, path, stepId });
  }
  get length(): number {
    return this.items.length;
  }
}
