// Package scheduler is this node's side of the election: it votes on waiting applications as
// soon as something changes, never on a fixed tick.
//
// For every NEW application, oldest first, the node votes the index of the first label
// definition it can run now (maintenance off, driver enabled, node filter matched, capacity left
// counting its own pending reservations) or -1, once per round. The FSM decides the round when
// every eligible node voted (see state.Winner). A "yes" reserves the definition's resources until
// the outcome is known, so simultaneous applications never over-commit the node. A "no" is not
// repeated: when the node's situation changes (capacity freed, maintenance off, a driver or node
// appears) and it now could serve, it opens the next round with a "yes". A slow safety timer
// covers anything missed.
package scheduler
