// Package axis speaks the national document exchange axis's adapter
// protocol (the XroadVnpt-* headers, HMAC-signed, as the axis SDK writes
// them) so the gateway can send, list, fetch and acknowledge packages and
// read the agency directory. Every failure is classified once, here:
// retryable, terminal or ambiguous. Subpackages: axishub is a reference
// adapter for development and tests, axistest a conformance suite that any
// client and adapter must both pass.
package axis
