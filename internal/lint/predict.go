package lint

import (
	"visiona-backend/internal/migfile"
)

// Prediction is a static lint finding about a file, as far as locks and rewrites go: what the
// round-trip proof (internal/schema) compares with what it measures.
type Prediction struct {
	Rule    string `json:"rule"`
	Line    int    `json:"line"`
	Rewrite bool   `json:"rewrite"` // the rule says the statement rewrites a table
	// Blocking: the rule says the statement holds a lock that blocks writes (SHARE or
	// stronger) on an existing table.
	Blocking bool `json:"blocking"`
}

// lockRules are the rules that predict what a statement does to an existing table: whether it
// rewrites it, and whether it holds a lock that blocks writes (SHARE or stronger) while it works.
var lockRules = map[string]Prediction{
	ruleVolatileDefault:     {Rewrite: true, Blocking: true},
	ruleColumnTypeChange:    {Rewrite: true, Blocking: true},
	ruleVacuumFullOrCluster: {Rewrite: true, Blocking: true},
	ruleNotConcurrently:     {Blocking: true},
	ruleSetNotNull:          {Blocking: true},
	ruleConstraintNotValid:  {Blocking: true},
	ruleValidateInSameTx:    {Blocking: true},
	ruleDomainConstraint:    {Blocking: true},
	ruleTruncateCascade:     {Blocking: true},
}

// Predictions is what the lint predicts of src's files' locks and rewrites, by file name
// (migfile.Migration.UpFile, DownFile), for internal/schema's WithPredictions: the round-trip proof
// measures them and says where the two differ. A finding silenced with lint:ignore predicts nothing.
func Predictions(src *migfile.Source, opts ...Option) (map[string][]Prediction, error) {
	findings, err := Check(src, opts...)
	if err != nil {
		return nil, err
	}
	out := map[string][]Prediction{}
	for _, f := range findings {
		p, ok := lockRules[f.Rule]
		if !ok {
			continue
		}
		p.Rule, p.Line = f.Rule, f.Line
		out[f.File] = append(out[f.File], p)
	}
	return out, nil
}
