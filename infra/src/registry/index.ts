export {
  addSite,
  getSite,
  listSites,
  parseDuration,
  SITE_ID,
  type SiteSettings,
  SiteSettingsSchema,
} from './sites.ts';
export {
  ALL_SITES,
  createToken,
  hashToken,
  listTokens,
  revokeToken,
  TOKEN_SCOPES,
  type TokenInfo,
  type TokenScope,
  type VerifiedToken,
  verifyToken,
} from './tokens.ts';
