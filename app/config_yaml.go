package app

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlErrLine reads the line yaml.v3 puts at the start of each of a
// TypeError's messages.
var yamlErrLine = regexp.MustCompile(`^line (\d+): `)

// nameYAMLKeys rewrites the messages of a YAML type error ("line 3:
// cannot unmarshal !!str `many` into int") to start with the key they are
// about ("workers: line 3: ..."), found by the lines of the document's
// nodes. Other errors (a syntax error, which has no key yet) are returned
// as they are.
func nameYAMLKeys(raw []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(raw, &root) != nil {
		return err
	}
	keys := map[int]string{}
	yamlKeyLines(&root, "", keys)
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = e
		if m := yamlErrLine.FindStringSubmatch(e); m != nil {
			n, _ := strconv.Atoi(m[1])
			if k, ok := keys[n]; ok {
				msgs[i] = k + ": " + e
			}
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// yamlKeyLines maps each line of the document to the dotted key whose key
// or value is on it, the deepest key winning ("github.app.integration_id");
// a top level that is not a mapping is "top level".
func yamlKeyLines(n *yaml.Node, path string, out map[int]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out[c.Line] = "top level"
			yamlKeyLines(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			switch {
			case k.Kind != yaml.ScalarNode:
				// A key that is itself a list or a mapping has no name:
				// the error is about the mapping holding it.
				p = path
				if p == "" {
					p = "top level"
				}
			case path != "":
				p = path + "." + k.Value
			}
			out[k.Line] = p
			out[v.Line] = p
			yamlKeyLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			// A flow sequence shares its key's line: the key is named.
			if _, ok := out[c.Line]; !ok {
				out[c.Line] = p
			}
			yamlKeyLines(c, p, out)
		}
	}
}
