import { requestZkJob } from './request-zk-job.js';
import type { AnySkill } from './skill.js';
import { verifyProof } from './verify-proof.js';

export { buildSkillContext, type SkillContext, type SkillContextOptions } from './context.js';
export {
  type RequestZkJobParams,
  type RequestZkJobResult,
  requestZkJob,
} from './request-zk-job.js';
export { type AnySkill, parseSkillParams, runSkill, type Skill } from './skill.js';
export { type VerifyProofParams, type VerifyProofResult, verifyProof } from './verify-proof.js';

/** Every skill, in the order agents see them. */
export const SKILLS: readonly AnySkill[] = [requestZkJob, verifyProof];
