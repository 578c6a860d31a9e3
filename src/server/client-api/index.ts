export { ClientApi, type ClientApiOptions } from './api.ts';
export type { ClientRequest, ClientResponse } from './types.ts';
