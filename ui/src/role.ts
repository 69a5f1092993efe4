/**
 * The signed-in operator's role, for hiding what the API would refuse anyway
 * (the API checks every route; this only spares a viewer buttons that 403).
 */
import { createContext, useContext } from 'react';
import type { OperatorView } from '../../api/responses.js';

export type Role = OperatorView['role'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export const OperatorContext = createContext<OperatorView | undefined>(undefined);

/** Whether the signed-in operator has at least this role. */
export function useCan(role: Role): boolean {
  const op = useContext(OperatorContext);
  return op !== undefined && RANK[op.role] >= RANK[role];
}
