export * from './errors.js';
export * from './event.js';
export * from './feedback.js';
export * from './handler.js';
export * from './inputs.js';
export * from './nip44.js';
export * from './request.js';
export * from './result.js';
export { type Amount, TagReader } from './tags.js';
