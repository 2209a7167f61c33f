//go:build cgo

package softhsm

const cgo = true
