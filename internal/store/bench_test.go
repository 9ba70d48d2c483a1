package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkApply measures one committed command (a user creation) end to end: encode, raft
// log append (bbolt, fsync), FSM apply (SQLite transaction), answer.
func BenchmarkApply(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		s := open(b, b.TempDir())
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Apply(ctx, user(fmt.Sprintf("s%d", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := open(b, b.TempDir())
		ctx := context.Background()
		var seq atomic.Int64
		b.SetParallelism(8) // 8 goroutines per CPU, as concurrent API requests would
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Apply(ctx, user(fmt.Sprintf("p%d", seq.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
