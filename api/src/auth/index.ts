export {
  type ClientInfo,
  type CountryOf,
  countryFromGeoIp,
  countryFromHeader,
  noCountry,
} from './client-info.ts';
export { AuthEnv, type AuthSettings, DEFAULT_AUTH_SETTINGS, durationMs, trustProxyOption } from './config.ts';
export { DEFAULT_SCRYPT, hashPassword, passwordProblem, verifyPassword } from './password.ts';
export {
  type AuthHandle,
  type AuthOptions,
  BACKGROUND_HEADER,
  COOKIE_LOCAL,
  COOKIE_SECURE,
  CSRF_HEADER,
  registerAuth,
} from './routes.ts';
export { type AuthService, createAuthService, csrfToken, hashSessionId, type Principal } from './service.ts';
export { type AuthDb, clickHouseAuthDb, listAudit, ROLES, type Role } from './store.ts';
export * as users from './users.ts';
