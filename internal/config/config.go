// Package config resolves the settings of the uploads command line from, in
// order of precedence, flags, the environment (OPENAI_* as the official SDKs
// read them, UPLOADS_* for the tool's own settings), a YAML config file and
// defaults. It is the only package that uses viper.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/uploads-dev/uploads/internal/suggest"
	"github.com/uploads-dev/uploads/internal/units"
)

// Config is every setting, resolved.
type Config struct {
	BaseURL      string        `mapstructure:"base_url"`
	APIKey       string        `mapstructure:"api_key"`
	Organization string        `mapstructure:"organization"`
	Project      string        `mapstructure:"project"`
	Timeout      time.Duration `mapstructure:"timeout"`
	StallTimeout time.Duration `mapstructure:"stall_timeout"`
	Format       string        `mapstructure:"format"`
	Retries      int           `mapstructure:"retries"`
	Concurrency  int           `mapstructure:"concurrency"`
	PartSize     units.Size    `mapstructure:"part_size"`
	JournalDir   string        `mapstructure:"journal_dir"`
	MinPartSize  units.Size    `mapstructure:"min_part_size"`
	// CACert is a PEM file of certificate authorities trusted besides the
	// system's (and SSL_CERT_FILE's).
	CACert string `mapstructure:"ca_cert"`
	// Azure OpenAI (or a server in its shape), used when AzureEndpoint is set.
	AzureEndpoint       string `mapstructure:"azure_endpoint"`
	APIVersion          string `mapstructure:"api_version"`
	AzureAPIKey         string `mapstructure:"azure_api_key"`
	AzureADToken        string `mapstructure:"azure_ad_token"`
	AzureADTokenCommand string `mapstructure:"azure_ad_token_command"`
	// File is the config file that was read, "" if none.
	File string `mapstructure:"-"`
	// from says where each key's value came from (see From).
	from map[string]string
}

// From says where the value of key came from, for messages: "--base-url",
// "OPENAI_BASE_URL", "base_url in FILE" or "the default".
func (c Config) From(key string) string {
	if f, ok := c.from[key]; ok {
		return f
	}
	return "the default"
}

// Setting is one key: its flag, its environment variable and its default.
type Setting struct {
	Key, Flag, Env string
	Default        any
}

// Settings lists every key. The README's configuration table follows it.
var Settings = []Setting{
	{"base_url", "base-url", "OPENAI_BASE_URL", "https://api.openai.com/v1"},
	{"api_key", "api-key", "OPENAI_API_KEY", ""},
	{"organization", "organization", "OPENAI_ORG_ID", ""},
	{"project", "project", "OPENAI_PROJECT_ID", ""},
	{"timeout", "timeout", "UPLOADS_TIMEOUT", "10m"},
	{"stall_timeout", "stall-timeout", "UPLOADS_STALL_TIMEOUT", "1m"},
	{"format", "format", "UPLOADS_FORMAT", "json"},
	{"retries", "retries", "UPLOADS_RETRIES", 8},
	{"concurrency", "concurrency", "UPLOADS_CONCURRENCY", 16},
	{"part_size", "part-size", "UPLOADS_PART_SIZE", 0}, // 0: chosen per file
	{"journal_dir", "journal-dir", "UPLOADS_JOURNAL_DIR", ""},
	{"min_part_size", "min-part-size", "UPLOADS_MIN_PART_SIZE", 0},
	{"ca_cert", "ca-cert", "UPLOADS_CA_CERT", ""},
	{"azure_endpoint", "azure-endpoint", "AZURE_OPENAI_ENDPOINT", ""},
	{"api_version", "api-version", "OPENAI_API_VERSION", ""},
	{"azure_api_key", "", "AZURE_OPENAI_API_KEY", ""}, // secrets take no flag but --api-key
	{"azure_ad_token", "", "AZURE_OPENAI_AD_TOKEN", ""},
	{"azure_ad_token_command", "azure-ad-token-command", "UPLOADS_AZURE_AD_TOKEN_COMMAND", ""},
}

// ConfigEnv names the config file when --config is not given.
const ConfigEnv = "UPLOADS_CONFIG"

// DefaultFile is $XDG_CONFIG_HOME/uploads/config.yaml (or under ~/.config).
func DefaultFile() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "uploads", "config.yaml")
}

// Load resolves the settings. flags holds the command's flags (those named in
// Settings are bound when present); file is --config ("" for the default).
func Load(flags *pflag.FlagSet, file string) (Config, error) {
	v := viper.New()
	for _, s := range Settings {
		v.SetDefault(s.Key, s.Default)
		if err := v.BindEnv(s.Key, s.Env); err != nil {
			return Config{}, err
		}
		if flags != nil {
			if f := flags.Lookup(s.Flag); f != nil {
				if err := v.BindPFlag(s.Key, f); err != nil {
					return Config{}, err
				}
			}
		}
	}
	explicit := file != ""
	if !explicit {
		file = os.Getenv(ConfigEnv)
		explicit = file != ""
	}
	if !explicit {
		file = DefaultFile()
	}
	var cfg Config
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			if !explicit && errors.Is(err, fs.ErrNotExist) {
				file = ""
			} else {
				return Config{}, fmt.Errorf("config file %s: %w", file, err)
			}
		}
	}
	if err := checkKeys(v); err != nil {
		return Config{}, fmt.Errorf("config file %s: %w", file, err)
	}
	from := sources(v, flags, file)
	hook := mapstructure.ComposeDecodeHookFunc(durationHook, sizeHook)
	if err := v.Unmarshal(&cfg, viper.DecodeHook(hook)); err != nil {
		return Config{}, badValue(v, hook, from, err)
	}
	cfg.File, cfg.from = file, from
	if err := cfg.check(); err != nil {
		return Config{}, fmt.Errorf("%w%s", err, inFile(file))
	}
	return cfg, nil
}

// sources says where each key set other than by default came from.
func sources(v *viper.Viper, flags *pflag.FlagSet, file string) map[string]string {
	from := make(map[string]string, len(Settings))
	for _, s := range Settings {
		var fl *pflag.Flag
		if flags != nil && s.Flag != "" {
			fl = flags.Lookup(s.Flag)
		}
		switch {
		case fl != nil && fl.Changed:
			from[s.Key] = "--" + s.Flag
		case os.Getenv(s.Env) != "":
			from[s.Key] = s.Env
		case file != "" && v.InConfig(s.Key):
			from[s.Key] = s.Key + " in " + file
		}
	}
	return from
}

// badValue names the key whose value could not be read (viper's own error
// lists every field's failure over several lines), where the value came
// from and what was expected.
func badValue(v *viper.Viper, hook mapstructure.DecodeHookFunc, from map[string]string, err error) error {
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("mapstructure")
		if key == "" || key == "-" {
			continue
		}
		out := reflect.New(f.Type)
		d, derr := mapstructure.NewDecoder(&mapstructure.DecoderConfig{DecodeHook: hook, WeaklyTypedInput: true, Result: out.Interface()})
		if derr != nil {
			return derr
		}
		val := v.Get(key)
		if d.Decode(val) == nil {
			continue
		}
		where, ok := from[key]
		if !ok {
			where = "the default"
		}
		if secret(key) {
			return fmt.Errorf("%s: the value is not %s", where, expected(f.Type)) // never printed
		}
		return fmt.Errorf("%s: %q is not %s", where, fmt.Sprint(val), expected(f.Type))
	}
	return fmt.Errorf("config: %w", err)
}

// secret reports whether key holds a credential, whose value no message
// may show.
func secret(key string) bool {
	return key == "api_key" || key == "azure_api_key" || key == "azure_ad_token"
}

// expected says what a value of type t looks like.
func expected(t reflect.Type) string {
	switch {
	case t == sizeType:
		return "a size (such as 64MiB, or a number of bytes)"
	case t == reflect.TypeFor[time.Duration]():
		return "a duration (such as 30s or 10m)"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() == reflect.Bool:
		return "true or false"
	}
	return "a " + t.Kind().String()
}

func inFile(file string) string {
	if file == "" {
		return ""
	}
	return " (settings from flags, environment and " + file + ")"
}

func (c Config) check() error {
	switch {
	case c.Format != "json" && c.Format != "text":
		return fmt.Errorf("format %q: expected json or text", c.Format)
	case c.Timeout < 0:
		return fmt.Errorf("timeout %v must not be negative", c.Timeout)
	case c.StallTimeout < 0:
		return fmt.Errorf("stall timeout %v must not be negative (0 never cuts a stalled part)", c.StallTimeout)
	case c.Retries < 0:
		return fmt.Errorf("retries %d must not be negative", c.Retries)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d must be at least 1", c.Concurrency)
	}
	return nil
}

var sizeType = reflect.TypeFor[units.Size]()

// durationHook reads a duration from a string ("30s"); a bare number other
// than 0 is refused, since its unit would be a guess (mapstructure would
// take 5 as 5ns).
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		return time.ParseDuration(d)
	case int, int64, float64:
		if reflect.ValueOf(d).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("a duration needs a unit")
	}
	return data, nil
}

// sizeHook reads a units.Size from a string ("64MiB") or a number of bytes.
func sizeHook(from, to reflect.Type, data any) (any, error) {
	if to != sizeType {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		n, err := units.ParseSize(d)
		return units.Size(n), err
	case int:
		return units.Size(d), nil
	case int64:
		return units.Size(d), nil
	case float64:
		if d != float64(int64(d)) || d < 0 {
			return nil, fmt.Errorf("size %v is not a whole number of bytes", d)
		}
		return units.Size(int64(d)), nil
	}
	return data, nil
}

// checkKeys refuses a key the configuration does not have (a misspelled
// key would otherwise be ignored, and its setting silently take its
// default), naming the closest one.
func checkKeys(v *viper.Viper) error {
	known := make([]string, len(Settings))
	for i, st := range Settings {
		known[i] = st.Key
	}
	for _, k := range v.AllKeys() {
		top, _, _ := strings.Cut(k, ".")
		if slices.Contains(known, top) {
			continue
		}
		best, dist := "", 1<<30
		for _, kn := range known {
			if d := suggest.Distance(strings.ReplaceAll(top, "-", "_"), kn); d < dist {
				best, dist = kn, d
			}
		}
		if dist <= 3 {
			return fmt.Errorf("unknown key %q; did you mean %q? (the keys: %s)", top, best, strings.Join(known, ", "))
		}
		return fmt.Errorf("unknown key %q (the keys: %s)", top, strings.Join(known, ", "))
	}
	return nil
}
