// Command deb builds lienthong's Debian package from nfpm.yaml, with nfpm
// as a library so that no downloaded binary takes part in a release.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	config := flag.String("config", "nfpm.yaml", "package description; $VERSION is expanded")
	target := flag.String("target", "dist", "folder for the .deb")
	flag.Parse()
	if err := build(*config, *target); err != nil {
		fmt.Fprintln(os.Stderr, "deb:", err)
		os.Exit(1)
	}
}

func build(config, target string) error {
	if os.Getenv("VERSION") == "" {
		return fmt.Errorf("VERSION is not set")
	}
	c, err := nfpm.ParseFile(config)
	if err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	info, err := c.Get("deb")
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	out := filepath.Join(target, deb.Default.ConventionalFileName(info))
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	info.Target = out
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}
