package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uploads-dev/uploads/internal/atomicfile"
)

// The self-signed certificate of `serve --tls`: where it is kept, for how
// long a new one is valid, and how long it must still be valid to be reused.
const (
	tlsDirName    = "tls"
	certFileName  = "cert.pem"
	keyFileName   = "key.pem"
	certValidFor  = 365 * 24 * time.Hour
	certMinRemain = 24 * time.Hour
)

// SelfSignedCertPath is where `serve --tls` keeps its certificate in
// dataDir: the file a client trusts (SSL_CERT_FILE, --ca-cert, curl
// --cacert).
func SelfSignedCertPath(dataDir string) string {
	return filepath.Join(dataDir, tlsDirName, certFileName)
}

// CheckTLSHost checks that name can be a certificate's subject alternative
// name: an IP address or a DNS name.
func CheckTLSHost(name string) error {
	if net.ParseIP(name) != nil {
		return nil
	}
	if len(name) > 253 || name == "" {
		return fmt.Errorf("%q is not a DNS name or an IP address", name)
	}
	for _, label := range strings.Split(name, ".") {
		if !validLabel(label) {
			return fmt.Errorf("%q is not a DNS name or an IP address: expected labels of letters, digits and hyphens, such as uploads.test or 192.0.2.7", name)
		}
	}
	return nil
}

// validLabel reports whether s is one label of a DNS name: 1 to 63 letters,
// digits and inner hyphens.
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !labelChar(c) {
			return false
		}
	}
	return true
}

// labelChar reports whether c may stand in a DNS label.
func labelChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// certHosts are the names a self-signed certificate must cover: the
// loopback names, the host of addr unless it is a wildcard, and extra; each
// once.
func certHosts(addr string, extra []string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host, _, _ = strings.Cut(host, "%") // an IPv6 zone is not part of the name
	if host != "" && host != "0.0.0.0" && host != "::" {
		extra = append([]string{host}, extra...)
	}
	for _, h := range extra {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// tlsConfig is the server's TLS configuration, offering HTTP/2 and
// HTTP/1.1 by ALPN: the given certificate and key when o names them, else
// the self-signed certificate of the data directory (made when needed).
func (o *Options) tlsConfig(log *slog.Logger) (*tls.Config, error) {
	certFile := o.TLSCertFile
	var cert tls.Certificate
	var err error
	if certFile != "" {
		cert, err = tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate %s and key %s: %w", o.TLSCertFile, o.TLSKeyFile, err)
		}
		log.Info("tls", slog.String("cert", certFile), slog.String("key", o.TLSKeyFile))
	} else {
		for _, h := range o.TLSHosts {
			if err := CheckTLSHost(h); err != nil {
				return nil, err
			}
		}
		var made bool
		cert, made, err = selfSigned(filepath.Join(o.DataDir, tlsDirName), certHosts(o.Addr, o.TLSHosts), time.Now())
		if err != nil {
			return nil, err
		}
		certFile = SelfSignedCertPath(o.DataDir)
		log.Info("tls", slog.String("cert", certFile), slog.Bool("new", made),
			slog.String("hint", "clients trust it with SSL_CERT_FILE="+certFile+" or --ca-cert "+certFile))
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// selfSigned returns the certificate kept in dir when it covers hosts and is
// valid for at least certMinRemain from now; otherwise it makes a new one
// and writes it there (made is true).
func selfSigned(dir string, hosts []string, now time.Time) (cert tls.Certificate, made bool, err error) {
	certPath, keyPath := filepath.Join(dir, certFileName), filepath.Join(dir, keyFileName)
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && reusable(cert.Leaf, hosts, now) {
		return cert, false, nil
	}
	certPEM, keyPEM, err := newSelfSigned(hosts, now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := writeKeyPair(dir, certPath, keyPath, certPEM, keyPEM); err != nil {
		return tls.Certificate{}, false, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, true, err
}

// reusable reports whether leaf is valid from now until at least
// certMinRemain later and covers every host.
func reusable(leaf *x509.Certificate, hosts []string, now time.Time) bool {
	if leaf == nil || now.Before(leaf.NotBefore) || now.Add(certMinRemain).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// newSelfSigned makes an ECDSA P-256 key and a certificate for hosts, valid
// for certValidFor, that is its own CA: a client can be given it as a
// trusted root.
func newSelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"uploads serve"}, CommonName: "uploads serve (local, self-signed)"},
		NotBefore:             now.Add(-time.Hour), // a client's clock a little behind
		NotAfter:              now.Add(certValidFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make a self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeKeyPair writes the key (0600) and the certificate, each atomically,
// in dir (made 0700 if needed). A crash between the two leaves a pair that
// does not match, which the next start replaces.
func writeKeyPair(dir, certPath, keyPath string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make the TLS directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make the TLS directory private: %w", err)
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("write the TLS key: %w", err)
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return fmt.Errorf("write the TLS certificate: %w", err)
	}
	return nil
}

// errTLSPair is returned by Run for a certificate without its key, or a key
// without its certificate.
var errTLSPair = errors.New("a TLS certificate and its key go together: give both files")
