import type { ProgramMetadata } from './metadata.js';

/**
 * Programs trusted as part of this package (the embedded default registry). Empty until the
 * native STARK backend's program ids are pinned by the zkVM backend work (issue 3).
 */
export const DEFAULT_PROGRAMS: readonly ProgramMetadata[] = [];
