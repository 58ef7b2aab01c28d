package background

import "time"

// jobTimer runs the host's Jobs when they are due, with one timer set to the earliest.
type jobTimer struct {
	jobs  []Job
	next  []time.Time
	timer *time.Timer // nil without runnable jobs
}

func newJobTimer(jobs []Job, now time.Time) *jobTimer {
	t := &jobTimer{}
	for _, j := range jobs {
		if j.Run != nil && j.Interval > 0 {
			t.jobs = append(t.jobs, j)
			t.next = append(t.next, now.Add(j.Interval))
		}
	}
	if len(t.jobs) > 0 {
		t.timer = time.NewTimer(t.untilNext(now))
	}
	return t
}

// c is the channel that fires when a job is due (nil, never firing, without jobs).
func (t *jobTimer) c() <-chan time.Time {
	if t.timer == nil {
		return nil
	}
	return t.timer.C
}

// runDue runs every job due at now, schedules each one Interval later, and sets the timer again.
func (t *jobTimer) runDue(now time.Time) {
	for i, j := range t.jobs {
		if !now.Before(t.next[i]) {
			j.Run()
			t.next[i] = now.Add(j.Interval)
		}
	}
	t.timer.Reset(t.untilNext(now))
}

func (t *jobTimer) untilNext(now time.Time) time.Duration {
	earliest := t.next[0]
	for _, n := range t.next[1:] {
		if n.Before(earliest) {
			earliest = n
		}
	}
	return max(0, earliest.Sub(now))
}

func (t *jobTimer) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}
