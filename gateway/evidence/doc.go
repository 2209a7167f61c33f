// Package evidence keeps the gateway's evidence log: one entry for every
// package that crossed the boundary, a Merkle tree over the entries as
// RFC 9162 defines it, signed checkpoints of the tree in the C2SP
// tlog-checkpoint form, and the proofs one agency hands another in a
// dispute, which anyone checks with public algorithms and the agency's
// published verifier key.
package evidence
