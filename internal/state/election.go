package state

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// HeartbeatInterval is how often a node says it is alive; a node whose last heartbeat is older
// than LiveWindow (at the log time of the command being applied) is not counted as a voter.
const (
	HeartbeatInterval = 5 * time.Second
	LiveWindow        = 3 * HeartbeatInterval
)

// Winner applies the election rule of behaviour.md §2.3 to the votes of one round: among the
// votes that can serve (available >= 0), the smallest definition index wins, then the earliest
// vote, then the smallest random tie-breaker, then the smallest node UID (so the rule is total).
func Winner(votes []model.Vote) (model.Vote, bool) {
	var yes []model.Vote
	for _, v := range votes {
		if v.Available >= 0 {
			yes = append(yes, v)
		}
	}
	if len(yes) == 0 {
		return model.Vote{}, false
	}
	return slices.MinFunc(yes, func(a, b model.Vote) int {
		return cmp.Or(
			cmp.Compare(a.Available, b.Available),
			a.CreatedAt.Compare(b.CreatedAt),
			cmp.Compare(a.Rand, b.Rand),
			slices.Compare(a.NodeUID[:], b.NodeUID[:]),
		)
	}), true
}

// applyVote records a vote and, when it completes its round, decides the election: every live
// node that has a driver named by the label votes once per round; the FSM decides when all of
// them have voted. Log order makes the decision the same on every replica.
func applyVote(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.Vote)
	v := cmd.Vote
	app, err := a.appRow(v.ApplicationUID)
	if err != nil {
		return nil, err
	}
	res, err := a.exec(`INSERT OR IGNORE INTO vote (uid, created_at, application_uid, node_uid, round, available, rand) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		v.UID.String(), fmtTime(v.CreatedAt), v.ApplicationUID.String(), v.NodeUID.String(), v.Round, v.Available, v.Rand)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil // this node already voted in this round
	}
	a.emit(Event{Kind: EventVote, App: app.UID, Node: v.NodeUID})
	if app.Status != model.StatusNew || v.Round < app.Round || (v.Round == app.Round && app.RoundClosed) {
		return nil, nil // the election is over, or the vote is late for its round
	}
	if v.Round > app.Round {
		// A node that can serve now opens the next round; the others join it.
		app.Round, app.RoundClosed = v.Round, false
		if _, err := a.exec(`UPDATE application SET round = ?, round_closed = 0, round_at = ? WHERE uid = ?`, app.Round, fmtTime(a.now), app.UID.String()); err != nil {
			return nil, err
		}
		a.emit(Event{Kind: EventApplication, App: app.UID, Status: model.StatusNew})
	}
	return nil, a.decideIfComplete(app, cmd.StateUID)
}

// decideIfComplete closes the application's current round when every eligible node voted.
func (a *applyCtx) decideIfComplete(app appRow, stateUID model.UID) error {
	votes, err := a.roundVotes(app.UID, app.Round)
	if err != nil {
		return err
	}
	eligible, err := a.eligibleNodes(app.LabelUID)
	if err != nil {
		return err
	}
	voted := map[model.UID]bool{}
	for _, v := range votes {
		voted[v.NodeUID] = true
	}
	for _, n := range eligible {
		if !voted[n] {
			return nil // still waiting for this node
		}
	}
	return a.decide(app, votes, stateUID)
}

func (a *applyCtx) decide(app appRow, votes []model.Vote, stateUID model.UID) error {
	w, ok := Winner(votes)
	if !ok {
		_, err := a.exec(`UPDATE application SET round_closed = 1 WHERE uid = ?`, app.UID.String())
		a.emit(Event{Kind: EventApplication, App: app.UID, Status: model.StatusNew})
		return err
	}
	var name string
	if err := a.queryRow(`SELECT name FROM node WHERE uid = ?`, w.NodeUID.String()).Scan(&name); err != nil {
		name = w.NodeUID.String()
	}
	var def string
	var defs []model.LabelDefinition
	var defsText string
	if err := a.queryRow(`SELECT definitions FROM label WHERE uid = ?`, app.LabelUID.String()).Scan(&defsText); err == nil &&
		json.Unmarshal([]byte(defsText), &defs) == nil && w.Available < len(defs) {
		b, _ := json.Marshal(defs[w.Available])
		def = string(b)
	}
	if _, err := a.exec(`UPDATE application SET node_uid = ?, definition_index = ?, round_closed = 1, definition = ? WHERE uid = ?`,
		w.NodeUID.String(), w.Available, def, app.UID.String()); err != nil {
		return err
	}
	return a.appendState(model.ApplicationState{
		UID:            stateUID,
		ApplicationUID: app.UID,
		CreatedAt:      a.now,
		Status:         model.StatusElected,
		Description:    "Elected node: " + name,
	}, w.NodeUID)
}

func (a *applyCtx) roundVotes(app model.UID, round uint16) ([]model.Vote, error) {
	rows, err := a.query(`SELECT `+voteCols+` FROM vote WHERE application_uid = ? AND round = ? ORDER BY seq`, app.String(), round)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanVote)
}

// eligibleNodes are the live nodes (at log time) that have a driver one of the label's
// definitions names.
func (a *applyCtx) eligibleNodes(label model.UID) ([]model.UID, error) {
	var defsText string
	if err := a.queryRow(`SELECT definitions FROM label WHERE uid = ?`, label.String()).Scan(&defsText); err != nil {
		return nil, nil // label deleted: whoever voted decides
	}
	var defs []model.LabelDefinition
	_ = json.Unmarshal([]byte(defsText), &defs)
	rows, err := a.query(`SELECT uid, drivers FROM node WHERE updated_at >= ?`, fmtTime(a.now.Add(-LiveWindow)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.UID
	for rows.Next() {
		var uid, driversText string
		if err := rows.Scan(&uid, &driversText); err != nil {
			return nil, err
		}
		var drivers []string
		_ = json.Unmarshal([]byte(driversText), &drivers)
		if slices.ContainsFunc(defs, func(d model.LabelDefinition) bool { return slices.Contains(drivers, d.Driver) }) {
			out = append(out, mustUID(uid))
		}
	}
	return out, rows.Err()
}

// applyCloseRound decides a round at its deadline with the votes cast so far.
func applyCloseRound(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.CloseRound)
	app, err := a.appRow(cmd.ApplicationUID)
	if err != nil {
		return nil, err
	}
	if app.Status != model.StatusNew || app.Round != cmd.Round || app.RoundClosed {
		return nil, nil // decided meanwhile
	}
	votes, err := a.roundVotes(app.UID, app.Round)
	if err != nil {
		return nil, err
	}
	return nil, a.decide(app, votes, cmd.StateUID)
}

// applyReelect returns an ELECTED application whose node did not allocate it to a new round.
func applyReelect(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.Reelect)
	app, err := a.appRow(cmd.ApplicationUID)
	if err != nil {
		return nil, err
	}
	if app.Status != model.StatusElected {
		return nil, refuse(ErrStatus, "application %s is %s", app.UID, app.Status)
	}
	next := max(app.Round+1, cmd.Round)
	if _, err := a.exec(`UPDATE application SET node_uid = '', definition_index = -1, definition = '', round = ?, round_closed = 0, round_at = ? WHERE uid = ?`,
		next, fmtTime(a.now), app.UID.String()); err != nil {
		return nil, err
	}
	st := cmd.State
	st.ApplicationUID, st.Status = app.UID, model.StatusNew
	return st, a.appendState(st, model.NilUID)
}
