export const roles = ['viewer', 'analyst', 'incident_manager', 'admin'] as const;
export type Role = (typeof roles)[number];

const rank: Record<Role, number> = { viewer: 0, analyst: 1, incident_manager: 2, admin: 3 };

/** Roles are ordered: each one may do everything the ones before it may. */
export const roleAllows = (held: Role, needed: Role): boolean => rank[held] >= rank[needed];
