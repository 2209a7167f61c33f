package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"lienthong/envelope"
	"lienthong/envelope/devca"
	"lienthong/envelope/sigkey"
)

const signLong = `Signs an edXML package with the agency's key and writes it to standard
output, with an enveloped XML-DSig signature (RSA-SHA256 or ECDSA-SHA256,
exclusive c14n, Reference URI="") as the last child of edXMLHeader. A
signature the input already carries is replaced. IN "-" reads standard input.

The key is a PEM file (PKCS#1, PKCS#8 or EC; an encrypted PKCS#8 key needs
--pass-file) or a key on a PKCS#11 token, named by an RFC 7512 URI whose
PIN comes from a file:

    pkcs11:token=agency;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/lienthong/pin`

const signExample = `  lienthong dev-ca /tmp/dev
  lienthong envelope sign --key /tmp/dev/agency.key --cert /tmp/dev/agency.pem \
      docs/examples/cong-van.edxml > signed.edxml`

func signCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "sign (--key KEY --cert CERT | --pkcs11-uri URI) IN", Short: "sign a package with an agency key (file or PKCS#11 token)",
		Long: signLong, Example: signExample, Args: nArgs(1)}
	var kc sigkey.Config
	fs := c.Flags()
	fs.StringVar(&kc.KeyFile, "key", "", "PEM private key file")
	fs.StringVar(&kc.PassFile, "pass-file", "", "file holding the passphrase of an encrypted key")
	fs.StringVar(&kc.CertFile, "cert", "", "signing certificate (PEM or DER); optional with a token that stores it")
	fs.StringVar(&kc.ChainFile, "chain", "", "intermediate certificates to send along (PEM)")
	fs.StringVar(&kc.PKCS11URI, "pkcs11-uri", "", "PKCS#11 URI of a key on a token, instead of --key")
	sha1 := fs.Bool("legacy-sha1", false, "sign with RSA-SHA1 for old peers that verify nothing else")
	c.MarkFlagsMutuallyExclusive("key", "pkcs11-uri")
	c.RunE = func(c *cobra.Command, args []string) error {
		if kc.KeyFile == "" && kc.PKCS11URI == "" {
			return badUsage(c, "--key or --pkcs11-uri is required")
		}
		key, err := sigkey.Load(kc)
		if err != nil {
			return err
		}
		defer key.Close()
		s, err := envelope.NewSigner(key.Signer, key.Chain, envelope.SignerOptions{LegacySHA1: *sha1})
		if err != nil {
			return err
		}
		pkg, done, err := readPackage(e, args[0], envelope.ParseOptions{})
		if done != nil {
			defer done()
		}
		if err != nil {
			return err
		}
		if pkg.Signed {
			fmt.Fprintln(e.stderr, "envelope sign: replacing the signature the package carried")
		}
		return printProblems(e, s.Sign(e.stdout, pkg, envelope.BuildOptions{}))
	}
	return c
}

const verifyLong = `Verifies the package's signature: exactly one XML-DSig signature as the last
child of edXMLHeader, Reference URI="" over the whole package, allowed
transforms and algorithms, the digest and the signature value, and a
certificate chain to the trust roots that is valid, unrevoked and allowed to
sign. When it holds, prints the same JSON as "envelope inspect", read from
the content the signature covers, and exits 0. Otherwise prints why on
stderr and exits 1.`

const verifyExample = `  lienthong envelope verify --trust /tmp/dev/ca.pem signed.edxml`

func verifyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "verify --trust CA_FILE_OR_DIR IN", Short: "verify a package's signature and print what it covers",
		Long: verifyLong, Example: verifyExample, Args: nArgs(1)}
	fs := c.Flags()
	trustPath := fs.String("trust", "", "trust roots: a PEM file or a directory of them (required)")
	crls := fs.StringArray("crl", nil, "certificate revocation list file or directory (repeatable)")
	sha1 := fs.Bool("legacy-sha1", false, "accept RSA-SHA1 signatures and SHA-1 digests")
	at := fs.String("at", "", "check certificates at this RFC 3339 time instead of now")
	maxBytes := fs.Int64("max-bytes", 0, "refuse packages larger than this many bytes (0: 160 MiB)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if *trustPath == "" {
			return badUsage(c, "--trust is required")
		}
		return verify(e, args[0], *trustPath, *crls, *sha1, *at, *maxBytes)
	}
	return c
}

func verify(e *env, in, trustPath string, crls []string, sha1 bool, at string, maxBytes int64) error {
	trust, err := envelope.LoadTrust(trustPath)
	if err != nil {
		return err
	}
	for _, c := range crls {
		if err := trust.AddCRLs(c); err != nil {
			return err
		}
	}
	opts := envelope.VerifyOptions{Trust: trust, LegacySHA1: sha1, Parse: envelope.ParseOptions{Limits: envelope.Limits{MaxBytes: maxBytes}}}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return fmt.Errorf("--at: %w", err)
		}
		opts.Now = func() time.Time { return t }
	}
	src, size, closeIn, err := openPackage(e, in, maxBytes)
	if err != nil {
		return err
	}
	defer closeIn()
	if opts.Parse.FileDir, err = os.MkdirTemp("", "lienthong-envelope-"); err != nil {
		return err
	}
	defer os.RemoveAll(opts.Parse.FileDir)
	v, err := envelope.VerifyAt(src, size, opts)
	if err != nil {
		if errors.Is(err, envelope.ErrInvalid) {
			fmt.Fprintln(e.stderr, "envelope verify: the signature holds, but the signed content breaks rules:")
		}
		if err = printProblems(e, err); !errors.Is(err, errReported) {
			err = fmt.Errorf("%s: %w", in, err)
		}
		return err
	}
	fmt.Fprintf(e.stderr, "signed by %q, chain to %q, checked at %s\n", v.Signer.Subject, v.Chain[len(v.Chain)-1].Subject, v.CheckedAt.Format(time.RFC3339))
	enc := jsonOut(e.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v.Package.Summary())
}

const devCALong = `Makes a development certificate authority and one agency certificate in DIR:
ca.pem (the trust root to give "envelope verify --trust"), agency.pem and
agency.key (unencrypted, mode 0600). ` + devca.Marker + `: these prove
nothing about anyone; they exist so signing can be tried without a licensed
CA. The daemon's -dev mode makes its own.`

const devCAExample = `  lienthong dev-ca /tmp/dev`

func devCACmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "dev-ca DIR", Short: "make a development CA and agency key (not for production)",
		Long: devCALong, Example: devCAExample, Args: nArgs(1)}
	code := c.Flags().String("code", "000.00.07.H26", "agency identifier code written into the certificate")
	name := c.Flags().String("name", "Development agency", "agency name written into the certificate")
	c.RunE = func(_ *cobra.Command, args []string) error {
		f, err := devca.Write(args[0], *name, *code, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "trust root:  %s\ncertificate: %s\nkey:         %s\n", f.CACert, f.AgencyCrt, f.AgencyKey)
		fmt.Fprintln(e.stderr, "dev-ca: "+devca.Marker+"; never trust this CA outside development")
		return nil
	}
	return c
}
