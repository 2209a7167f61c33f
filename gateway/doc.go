// Package gateway is the engine between an agency's legacy document system
// and the national axis. Outbound, a document handed over the local API or
// the spool folder is checked, addressed, built, signed and stored before
// it is acknowledged, then sent by priority lanes until the axis takes it.
// Inbound, packages polled from the axis are stored before they are
// acknowledged, then verified, delivered once and answered with status 01;
// refused ones are quarantined and answered 02. Status packages keep each
// outbound document's per-recipient state.
//
// A Gateway owns every goroutine it starts: Run blocks until its context
// ends and in-flight sends finish within a bound; Close releases the store,
// the key and the listeners.
package gateway
