/** The relay `m2m relay start` serves by default; the customer and skills use it unless told otherwise. */
export const DEFAULT_RELAY = 'ws://127.0.0.1:7447';
