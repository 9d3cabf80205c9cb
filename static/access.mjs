// The words of access by identity (issue 25): an edge's AuthorizationPolicy decision and the
// denials its destination reported. Pure, shared by the graph's badges, the panel and the table.
import { finite } from './model.mjs';
import { formatNumber } from './number.mjs';

// authzDecision is the edge's access decision when it is not a plain
// allow: 'deny' or 'conditional'; '' otherwise (also with no policy).
export function authzDecision(edge) {
  const d = edge.authorization?.decision;
  return d === 'deny' || d === 'conditional' ? d : '';
}

// authzText says what the target's AuthorizationPolicies decide for the
// caller: "access denied by default/ratings-callers", "access
// conditional (mTLS allowed, plaintext denied) by …", "access allowed";
// '' when no policy applies anywhere in its cluster.
export function authzText(edge) {
  const a = edge.authorization;
  if (!a || !a.decision) return '';
  const word = { allow: 'allowed', deny: 'denied', conditional: 'conditional' }[a.decision] || a.decision;
  let s = `access ${word}`;
  const parts = [];
  if (a.mutualTls) parts.push(`mTLS ${{ allow: 'allowed', deny: 'denied' }[a.mutualTls] || a.mutualTls}`);
  if (a.plaintext) parts.push(`plaintext ${{ allow: 'allowed', deny: 'denied' }[a.plaintext] || a.plaintext}`);
  if (parts.length) s += ` (${parts.join(', ')})`;
  if (a.policies?.length) s += ` by ${a.policies.join(', ')}`;
  else if (a.decision === 'allow') s += ' (no policy selects it)';
  return s;
}

// deniedText: "denied by access policy: 0.5 req/s", what the destination's
// proxy reported denying now; '' when none.
export function deniedText(edge) {
  const r = edge.deniedRate;
  if (!finite(r) || r <= 0) return '';
  return `denied by access policy: ${formatNumber(r)} ${edge.protocol === 'tcp' ? 'conn/s' : 'req/s'}`;
}
