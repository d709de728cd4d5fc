/*
 * tests/model/ring.pml - a Spin model of the ipcfs ring protocol
 * (lib/channel.c, lib/channel_rx.c, lib/wait.c, lib/arena.c,
 * lib/membership.c), run by tests/shell/model_spin.sh.
 *
 * Rank 0 sends M messages into its ring of SLOTS slots (wrap-around),
 * each small (payload in the slot) or large (payload in one of NB arena
 * blocks), to rank 1, rank 2 or all live ranks; then it leaves. Ranks 1
 * and 2 receive, hold up to MAXHELD views at once, release them in any
 * order, and leave once the sender is gone and drained (EPIPE); a receive
 * while views are held does not wait (timeout 0: a reader that sleeps on
 * the oldest view of a full ring would block its sender for ever). A killer
 * may stop any one member at any statement (KILL=1, the default); the
 * reaper then marks it dead, sweeps its arena blocks and wakes everyone
 * (seg_mark_gone_pid). Rings are single-writer and independent: a second
 * sender would share only the arena lock, the live mask and the bells.
 *
 * Memory ordering. Every statement below is one atomic step and the
 * interleavings are sequentially consistent. The C code makes that valid
 * where it matters (comments "Model: tests/model/ring.pml, step ..." in the
 * C files name these steps):
 *   W1/W2  the sleep handshake (Dekker): the publisher stores the data
 *          (slot seq, released[], freed_bell) then loads the waiting flag;
 *          the sleeper stores its flag then loads the bell and the data.
 *          Both are seq_cst, or the publisher's store is a release made
 *          SC by the sleeper's membarrier(GLOBAL_EXPEDITED) between its
 *          flag store and its loads (wait_asym_fence).
 *   S1     the slot seqlock: BUSY store + release fence before the header
 *          stores, release store of seq; the reader's acquire load of
 *          seq, relaxed dest, acquire fence, recheck. So a reader that
 *          sees seq == P+1 twice read the dest published with P.
 *   S2     slot reuse: the reader's (seq_cst or release) store of
 *          released[] after its last payload read pairs with the sender's
 *          seq_cst load in slot_holders before it overwrites the slot.
 *   A1     arena: holders stored before the release store of the state
 *          (arena_publish), read after an acquire of the state; the
 *          holder's acq_rel fetch_and; the lock's acquire CAS / release
 *          unlock give the block list mutual exclusion.
 *   M1     membership: the acq_rel CAS of the owner word, seq_cst
 *          updates of the live mask that senders read seq_cst.
 * Not modelled: relaxed statistics, the daemon's control ring, joins (all
 * start live, nobody rejoins), PID reuse, hostile or corrupt memory (any
 * corrupt slot here is a protocol bug: asserted), the arena's block
 * list (NB fixed blocks; split and merge are not modelled, repair() is a
 * recount), the spin phase (a poll before the announcement stands for it)
 * and the pacing naps (the handshake of wait_until with the sleeper's own
 * fence only: a wake-up may be missed, and the nap's timer ends it).
 *
 * Futex: FUTEX_WAIT sleeps only if the word still holds the value read,
 * checked atomically; FUTEX_WAKE wakes the sleepers of that word. A sleep
 * ends by timeout only once some member has died (the C waits then find
 * the death by their liveness check every WAIT_LIVENESS_NS); without a
 * death, every wake-up must come from a waker.
 *
 * Mutants (-DMUTANT_x), each must make the check fail (model_spin.sh):
 *   FLAG_FIRST     publisher loads rx_waiting before its seq store (the
 *                  StoreLoad order that seq_cst / membarrier gives, lost)
 *   BELL_LATE      sleeper reads the bell after its last look
 *   RELEASE_EARLY  receiver publishes released[] before it has copied the
 *                  payload (releases a view it still reads)
 *   NO_SWEEP       marking a rank gone does not sweep its arena blocks
 *   NO_RECHECK     reader skips the seqlock recheck of seq
 *   NO_PUBLISH_RECHECK  the sender does not look at live again after
 *                  publishing a block (the leak this model found in lib/)
 *   NO_ALLOC_WAKE  a free does not wake the allocators waiting for space
 *                  (NOT caught by the bitstate runs of model_spin.sh yet)
 */

#ifndef SLOTS
#define SLOTS 2
#endif
#ifndef NB
#define NB 1
#endif
#ifndef M
#define M 3
#endif
#ifndef MAXHELD
#define MAXHELD 2
#endif
#ifndef KILL
#define KILL 1
#endif

#define NR 3          /* ranks: 0 sends, 1 and 2 receive */
#define BUSY 16       /* seq flag: the slot is being rewritten */
#define NONE 255
#define BIT(r) (1 << (r))
#define NOT(m) (255 ^ (m))
#define RXMASK 6      /* ranks 1 and 2 */

#define FREE 0
#define RESERVED 1
#define PUBLISHED 2

#define LIVE 0
#define DEAD 1
#define LEFT 2

/* ---- shared memory ---- */
/* ring of rank 0 */
byte seq[SLOTS];        /* 0 never written, else pos+1, | BUSY being rewritten */
byte sdest[SLOTS];
bool sbig[SLOTS];       /* kind & KIND_ARENA */
byte sref[SLOTS];       /* the arena_ref: block index ... */
byte sgen[SLOTS];       /* ... and generation */
byte sdata[SLOTS];      /* payload of a small message: its id */
byte head;
byte released[NR];      /* released[r]: rank r's release frontier of ring 0 */
/* arena */
byte bstate[NB];
byte bowner[NB];
byte bholders[NB];
byte bgen[NB];
byte bdata[NB];         /* payload of a large message: its id */
byte agen = 1;
byte used;              /* used_bytes, in blocks */
byte lk;                /* lock word: holder id + 1, 0 free */
byte freed_bell;
byte awaiting;          /* counting waiter of the arena */
/* membership */
byte live = 7;
byte ostate[NR];
/* wait */
bool rx_waiting[NR];
byte rx_bell[NR];
bool tx_waiting;
byte tx_bell;
/* futex sleepers (kernel state) */
bool rx_asleep[NR];
bool tx_asleep;
bool al_asleep;
/* death */
bool dead[NR + 1];       /* [NR]: the reaper, never killed */
bool anydead;
bool reaping;

/* ---- ghosts (not in the C code) ---- */
typedef row { byte v[M] };
row sent_to[NR];        /* ids of the messages published for r, in order */
byte nsent[NR];
byte wdone[NR];         /* messages for r whose wake step is complete */
byte got[NR];           /* messages r has received */
byte gh_slot[NR];       /* slots whose view r holds (bit mask) */
byte gh_blk[NR];        /* blocks whose view r holds (bit mask) */
bool fin[NR];
bool ended;

/* ---- the futex ---- */
inline futex_wait(word, val, asleep)
{
	if
	:: atomic { word == val -> asleep = true };
	   if
	   :: !asleep
	   :: anydead -> asleep = false  /* timeout, then a liveness check */
	   fi
	:: atomic { word != val -> skip } /* EAGAIN */
	fi
}

/* ---- the arena lock (lock(), unlock(), repair()) ---- */
/* Taken when free or when its holder's thread is gone (holder_gone);
 * after a dead holder, repair() recounts used_bytes. */
inline lock(id, rep, b)
{
	atomic {
		(lk == 0 || dead[lk - 1]) -> rep = (lk != 0); lk = id + 1;
		if
		:: rep ->       /* repair(), done at once: we hold the lock */
			used = 0; b = 0;
			do
			:: b < NB -> if :: bstate[b] != FREE -> used++ :: else fi; b++
			:: else -> break
			od;
			b = 0; rep = false
		:: else
		fi
	}
}

inline unlock(id)
{
	atomic { if :: lk == id + 1 -> lk = 0 :: else fi }
}

/* free_locked(): count_down never below zero, then holders, state */
inline free_locked(b)
{
	used = (used > 0 -> used - 1 : 0);
	atomic { bholders[b] = 0; bstate[b] = FREE }
}

/* wake_allocators(): W1 publisher side for the arena (seq_cst RMW of the
 * bell, then the load of the waiting count). */
inline wake_allocators()
{
	freed_bell++;
#ifndef MUTANT_NO_ALLOC_WAKE
	atomic { if :: awaiting > 0 -> al_asleep = false :: else fi }
#else
	skip
#endif
}

/* seg_mark_gone_pid(v, how): CAS the owner, clear the live bit, sweep
 * the arena (arena_sweep), wake every sleeper (seg_wake_all). */
inline mark_gone(v, how, id, rep, b, bits, drop, freed)
{
	if
	:: atomic { ostate[v] == LIVE -> ostate[v] = how };
	   live = live & NOT(BIT(v));
#ifndef MUTANT_NO_SWEEP
	   lock(id, rep, b);
	   freed = false;
	   b = 0;
	   do
	   :: b < NB ->
		atomic {
			if
			:: bstate[b] == PUBLISHED ->
				bits = bholders[b] & NOT(BIT(v)); bholders[b] = bits;
				drop = (bits == 0)
			:: bstate[b] == RESERVED -> drop = (bowner[b] == v)
			:: bstate[b] == FREE -> drop = false
			fi;
			bits = 0
		};
		if
		:: drop -> free_locked(b); freed = true
		:: else
		fi;
		atomic { b++; drop = false }
	   :: else -> break
	   od;
	   b = 0;
	   unlock(id);
	   if
	   :: freed -> wake_allocators()
	   :: else
	   fi;
#endif
	   atomic { rx_bell[1]++; rx_asleep[1] = false };
	   atomic { rx_bell[2]++; rx_asleep[2] = false };
	   atomic { tx_bell++; tx_asleep = false }
	:: atomic { ostate[v] != LIVE -> skip }
	fi
}

/* ---- the sender, rank 0 ---- */

/* slot_holders(): live readers of the message a lap behind @pos that have
 * not released it (S2: seq_cst loads of live and released[]). */
inline slot_holders(pos, held, old, r)
{
	atomic {
		held = 0;
		if
		:: pos >= SLOTS ->
			old = pos - SLOTS;
			held = sdest[pos % SLOTS] & live;
			r = 1
		:: else -> r = NR
		fi
	};
	do
	:: atomic {
		r < NR ->
		if
		:: (held & BIT(r)) && seen[r] <= old ->
			seen[r] = released[r];
			if
			:: seen[r] > old -> held = held & NOT(BIT(r))
			:: else
			fi
		:: (held & BIT(r)) && seen[r] > old -> held = held & NOT(BIT(r))
		:: else
		fi;
		r++
	   }
	:: else -> break
	od;
	r = 0; old = 0
}

active proctype Sender()
{
	byte i, txpos, d, held, old, r, b, bell, res, res_gen, bits, slot;
	byte seen[NR];
	bool big, reserved, res_block, announced, got_blk, rep, drop, freed, w1, w2;

	{
	do
	:: i == M -> break
	:: else ->
		/* claim_slot(): wait until the slot at txpos is free */
		if
		:: !reserved ->
			announced = false;
			do
			:: if
			   :: announced ->
				tx_waiting = true;      /* W2: flag, then bell, then look */
				bell = tx_bell
			   :: else
			   fi;
			   slot_holders(txpos, held, old, r);
			   if
			   :: held == 0 -> break
			   :: else ->
				if
				:: !announced -> announced = true
				:: else -> futex_wait(tx_bell, bell, tx_asleep)
				fi
			   fi
			od;
			if
			:: announced -> tx_waiting = false
			:: else
			fi;
			atomic { slot = txpos % SLOTS; announced = false; bell = 0 };
			/* only ranks that are gone still hold the old block */
			if
			:: txpos >= SLOTS && sbig[slot] ->   /* arena_reclaim() */
				lock(0, rep, b);
				atomic {
					freed = false;
					if
					:: bstate[sref[slot]] == PUBLISHED && bgen[sref[slot]] == sgen[slot] ->
						bits = bholders[sref[slot]]; bholders[sref[slot]] = 0;
						freed = (bits != 0)
					:: else
					fi;
					bits = 0
				};
				if
				:: freed -> free_locked(sref[slot])
				:: else
				fi;
				unlock(0);
				if
				:: freed -> wake_allocators()
				:: else
				fi;
				freed = false
			:: else
			fi;
			reserved = true
		:: else
		fi;
		/* chan_reserve(): small or large */
		if
		:: atomic { slot = txpos % SLOTS; big = false }
		:: atomic { slot = txpos % SLOTS; big = true }
		fi;
		if
		:: !big ->
			if
			:: res_block ->                 /* drop_block(): arena_unreserve() */
				lock(0, rep, b);
				if
				:: bstate[res] == RESERVED && bgen[res] == res_gen -> free_locked(res)
				:: else
				fi;
				unlock(0);
				wake_allocators();
				res_block = false
			:: else
			fi;
			atomic {   /* the payload: nobody may hold this slot */
				assert(((gh_slot[1] | gh_slot[2]) & BIT(slot)) == 0);
				sdata[slot] = i + 1
			}
		:: big ->
			if
			:: !res_block ->                /* alloc_block(), a counting waiter */
				do
				:: if
				   :: announced -> bell = freed_bell   /* W2 */
				   :: else
				   fi;
				   /* arena_try_alloc(): the first free block */
				   lock(0, rep, b);
				   atomic {
					got_blk = false;
					b = 0;
					do
					:: b < NB && bstate[b] == FREE -> res = b; got_blk = true; break
					:: b < NB && bstate[b] != FREE -> b++
					:: else -> break
					od;
					b = 0
				   };
				   if
				   :: got_blk ->            /* take_locked() */
					atomic {
						res_gen = agen; agen++; bgen[res] = res_gen;
						bowner[res] = 0; bholders[res] = 0;
						bstate[res] = RESERVED
					};
					used++
				   :: else
				   fi;
				   unlock(0);
				   if
				   :: got_blk -> break
				   :: else ->
					if
					:: !announced -> atomic { announced = true; awaiting++ }
					:: else -> futex_wait(freed_bell, bell, al_asleep)
					fi
				   fi
				od;
				if
				:: announced -> awaiting--
				:: else
				fi;
				atomic { res_block = true; announced = false; got_blk = false; bell = 0 }
			:: else
			fi;
			atomic {   /* the payload: nobody may hold this block */
				assert(((gh_blk[1] | gh_blk[2]) & BIT(res)) == 0);
				bdata[res] = i + 1
			}
		fi;
		/* ipcfs_send(): to rank 1, rank 2, or all live (IPCFS_ALL) */
		atomic {
			if
			:: d = 2
			:: d = 4
			:: d = RXMASK
			fi;
			if
			:: d == RXMASK -> d = live & RXMASK
			:: else -> d = ((d & live) == d -> d : 0)
			fi
		};
		if
		:: d == 0 -> skip    /* -ENOTCONN: the reservation stays */
		:: else ->
			/* chan_commit(): S1 seqlock writer */
			seq[slot] = BUSY | (txpos + 1);
			sdest[slot] = d;
			if
			:: res_block ->
				atomic { sref[slot] = res; sgen[slot] = res_gen; sbig[slot] = true };
				bholders[res] = d;           /* arena_publish(): A1 */
				bstate[res] = PUBLISHED;
#ifndef MUTANT_NO_PUBLISH_RECHECK
				/* publish_recheck (lib/channel.c, drop_gone_holders):
				 * a rank marked gone between the read of live above
				 * and this publish was swept before its bit was here;
				 * look at live again (SC fence: one of us sees the
				 * other) and drop the bits of ranks gone. Found by
				 * this model; without it the arena leaks. */
				bits = d & NOT(live);
				if
				:: bits != 0 ->
					atomic { old = bholders[res]; bholders[res] = old & NOT(bits) };
					if
					:: (old & NOT(bits)) == 0 && old != 0 ->
						lock(0, rep, b);
						if
						:: bstate[res] == PUBLISHED && bgen[res] == res_gen -> free_locked(res)
						:: else
						fi;
						unlock(0);
						wake_allocators()
					:: else
					fi
				:: else
				fi;
				atomic { bits = 0; old = 0 };
#endif
				res_block = false
			:: else -> sbig[slot] = false
			fi;
#ifdef MUTANT_FLAG_FIRST
			w1 = rx_waiting[1];
			w2 = rx_waiting[2];
#endif
			atomic {   /* publish (W1: data, then flag) */
				seq[slot] = txpos + 1;
				r = 1;
				do
				:: r < NR ->
					if
					:: d & BIT(r) -> sent_to[r].v[nsent[r]] = i + 1; nsent[r]++
					:: else
					fi;
					r++
				:: else -> break
				od;
				r = 0;
				txpos++;
				reserved = false
			};
			head = txpos;
			/* wake_readers() */
#ifndef MUTANT_FLAG_FIRST
			w1 = rx_waiting[1];
			w2 = rx_waiting[2];
#endif
			if
			:: (d & 2) && w1 -> atomic { rx_bell[1]++; rx_asleep[1] = false }
			:: else
			fi;
			wdone[1] = nsent[1];
			if
			:: (d & 4) && w2 -> atomic { rx_bell[2]++; rx_asleep[2] = false }
			:: else
			fi;
			atomic { wdone[2] = nsent[2]; w1 = false; w2 = false }
		fi;
		atomic { i++; d = 0; slot = 0; big = false }
	od;
	mark_gone(0, LEFT, 0, rep, b, bits, drop, freed);
	fin[0] = true
	} unless {
		atomic { dead[0] -> fin[0] = true; tx_asleep = false; al_asleep = false }
	}
}

/* ---- the receivers, ranks 1 and 2 ---- */

/* try_ring(): the next message for @me in ring 0 from cur, S1 read side */
inline try_ring(me, cur, p, rc, round, sq, spos, d, h)
{
	atomic { p = cur; rc = 0; round = 0 };
	do
	:: atomic { round == 2 * SLOTS + 2 -> break }
	:: atomic { round < 2 * SLOTS + 2 -> round++; sq = seq[p % SLOTS] };
		if
		:: atomic { sq == p + 1 -> d = sdest[p % SLOTS] };
#ifndef MUTANT_NO_RECHECK
			atomic {
				if
				:: seq[p % SLOTS] != sq -> skip  /* reused meanwhile: again */
				:: else ->
#else
			atomic {
				if
				:: true ->
#endif
					if
					:: d & BIT(me) ->
						cur = p + 1; rc = 1;
						gh_slot[me] = gh_slot[me] | BIT(p % SLOTS);
						break
					:: else -> p++
					fi
				fi
			}
		:: atomic { sq == 0 -> break }           /* never written */
		:: atomic {
			sq != 0 && sq != p + 1 ->
			spos = (sq & NOT(BUSY)) - 1;
			if
			:: spos <= p ->
				assert((p - spos) % SLOTS == 0);
				break                   /* not yet */
			:: else ->
				assert((spos - p) % SLOTS == 0);
				h = head;               /* a later lap: skip ahead */
				p = (h > SLOTS && h - SLOTS > p + 1 -> h - SLOTS : p + 1)
			fi
		   }
		fi
	od;
	atomic {
		if
		:: rc == 0 -> cur = p
		:: else
		fi;
		round = 0; sq = 0; spos = 0; d = 0; h = 0
	}
}

/* release_ring(): publish the lowest position held (or cur), then wake
 * the sender if it waits for space (W1 for the tx side, S2). */
inline release_ring(me, cur, upto, k)
{
	atomic {
		upto = cur; k = 0;
		do
		:: k < MAXHELD -> if :: hu[k] && hp[k] < upto -> upto = hp[k] :: else fi; k++
		:: else -> break
		od;
		released[me] = upto;
		/* the views below upto are given back */
		gh_slot[me] = 0; k = 0;
		do
		:: k < MAXHELD -> if :: hu[k] -> gh_slot[me] = gh_slot[me] | BIT(hp[k] % SLOTS) :: else fi; k++
		:: else -> break
		od;
		k = 0; upto = 0
	};
	if
	:: tx_waiting -> atomic { tx_bell++; tx_asleep = false }
	:: else
	fi
}

proctype Receiver(byte me)
{
	byte cur, p, rc, round, sq, spos, d, h, bell, looks, k, upto, slot, rb, rg, val;
	byte bits, b, old;
	byte hp[MAXHELD], hb[MAXHELD], hg[MAXHELD], hv[MAXHELD];
	bool hu[MAXHELD];
	byte nheld;
	bool announced, epipe, bigm, rep, drop, freed;

	{
	do
	:: epipe && nheld == 0 -> break
	:: !epipe && nheld < MAXHELD ->
		/* chan_recv() from rank 0: poll, announce, poll, sleep */
		do
		:: if
		   :: announced ->
			rx_waiting[me] = true;          /* W2: flag ... */
#ifndef MUTANT_BELL_LATE
			bell = rx_bell[me]              /* ... bell ... */
#else
			skip
#endif
		   :: else
		   fi;
		   looks = 0;                           /* ... look (poll_recv) */
		   do
		   :: try_ring(me, cur, p, rc, round, sq, spos, d, h);
		      if
		      :: rc != 0 -> break
		      :: rc == 0 && looks == 1 -> epipe = true; break
		      :: atomic { rc == 0 && looks == 0 && ostate[0] != LIVE -> looks = 1 } /* once more */
		      :: atomic { rc == 0 && looks == 0 && ostate[0] == LIVE -> break }
		      fi
		   od;
		   if
		   :: rc != 0 || epipe -> break
		   :: else ->
			if
			:: nheld > 0 -> break   /* holding views: timeout 0, EAGAIN */
			:: nheld == 0 && !announced -> announced = true
			:: nheld == 0 && announced ->
#ifdef MUTANT_BELL_LATE
				bell = rx_bell[me];
#endif
				futex_wait(rx_bell[me], bell, rx_asleep[me])
			fi
		   fi
		od;
		if
		:: announced -> atomic { rx_waiting[me] = false; announced = false; looks = 0; bell = 0 }
		:: else -> looks = 0
		fi;
		if
		:: epipe ->
			assert(got[me] == nsent[me])     /* every message for me, once */
		:: !epipe && rc == 0 -> skip        /* EAGAIN */
		:: !epipe && rc != 0 ->
			/* deliver(): header copied once, checked (A1) */
			atomic { slot = p % SLOTS; bigm = sbig[slot]; rb = sref[slot]; rg = sgen[slot] };
			if
			:: bigm ->
				atomic {
					assert(bstate[rb] == PUBLISHED && bgen[rb] == rg);
					gh_blk[me] = gh_blk[me] | BIT(rb)
				};
				val = bdata[rb]
			:: else -> atomic { rb = NONE; val = sdata[slot] }
			fi;
			/* in order, no gap, no duplicate */
			atomic {
				assert(got[me] < nsent[me] && sent_to[me].v[got[me]] == val);
				got[me]++;
				k = 0;
				do
				:: hu[k] -> k++
				:: else -> break
				od;
				hp[k] = p; hb[k] = rb; hg[k] = rg; hv[k] = val; hu[k] = true; nheld++;
				k = 0; p = 0; rb = 0; rg = 0; val = 0; slot = 0; bigm = false; rc = 0
			};
#ifdef MUTANT_RELEASE_EARLY
			released[me] = cur;
#endif
			skip
		fi
	:: nheld > 0 ->
		/* chan_release() of any view held; first the last read of
		 * the payload: unchanged while held */
		if
		:: atomic { hu[0] -> k = 0 }
		:: atomic { MAXHELD > 1 && hu[MAXHELD - 1] -> k = MAXHELD - 1 }
		fi;
		if
		:: hb[k] != NONE -> assert(bdata[hb[k]] == hv[k])
		:: else -> assert(sdata[hp[k] % SLOTS] == hv[k])
		fi;
		if
		:: hb[k] != NONE ->                     /* arena_release() */
			atomic {
				old = bholders[hb[k]];
				bholders[hb[k]] = old & NOT(BIT(me));
				gh_blk[me] = gh_blk[me] & NOT(BIT(hb[k]))
			};
			if
			:: old == BIT(me) ->
				lock(me, rep, b);
				atomic {
					freed = bstate[hb[k]] == PUBLISHED && bgen[hb[k]] == hg[k]
				};
				if
				:: freed -> free_locked(hb[k])
				:: else
				fi;
				unlock(me);
				if
				:: freed -> wake_allocators()
				:: else
				fi
			:: else
			fi
		:: else
		fi;
		atomic { hu[k] = false; nheld--; old = 0; freed = false };
		release_ring(me, cur, upto, k);
		k = 0
	od;
	mark_gone(me, LEFT, me, rep, b, bits, drop, freed);
	fin[me] = true
	} unless {
		atomic {
			dead[me] -> fin[me] = true; rx_asleep[me] = false;
			gh_slot[me] = 0; gh_blk[me] = 0
		}
	}
}

/* ---- death ---- */

active proctype Killer()
{
#if KILL
	if
	:: atomic { !fin[0] -> dead[0] = true; anydead = true }
	:: atomic { !fin[1] -> dead[1] = true; anydead = true }
	:: atomic { !fin[2] -> dead[2] = true; anydead = true }
	:: skip
	fi
#else
	skip
#endif
}

/* Whoever notices a death (the daemon's pidfd, a waiter's liveness check)
 * marks the rank dead: seg_mark_gone_pid(DEAD). */
active proctype Reaper()
{
	byte v, b, bits;
	bool rep, drop, freed;
end_idle:
	do
	:: atomic {
		(dead[0] && ostate[0] == LIVE) || (dead[1] && ostate[1] == LIVE) ||
		(dead[2] && ostate[2] == LIVE) ->
		reaping = true;
		if
		:: dead[0] && ostate[0] == LIVE -> v = 0
		:: dead[1] && ostate[1] == LIVE -> v = 1
		:: dead[2] && ostate[2] == LIVE -> v = 2
		fi
	   };
	   mark_gone(v, DEAD, NR, rep, b, bits, drop, freed);
	   reaping = false;
	   v = 0; b = 0; bits = 0; rep = false; drop = false; freed = false
	od
}

/* ---- properties ---- */

/* No lost wake-up: a receiver never sleeps while a message for it is
 * published and its sender's wake step for it is over. */
active proctype NoLostWakeup()
{
end_watch:
	atomic {
		(rx_asleep[1] && wdone[1] > got[1]) || (rx_asleep[2] && wdone[2] > got[2]) ->
		assert(false)
	}
}

/* When every member has finished (left, or died and been reaped), the
 * arena is empty and its accounting back to zero. */
active proctype Final()
{
	byte b;
	atomic {
		fin[0] && fin[1] && fin[2] && !reaping &&
		!(dead[0] && ostate[0] == LIVE) && !(dead[1] && ostate[1] == LIVE) &&
		!(dead[2] && ostate[2] == LIVE) ->
		assert(used == 0);
		b = 0;
		do
		:: b < NB -> assert(bstate[b] == FREE); b++
		:: else -> break
		od;
		ended = true
	}
}

init
{
	atomic {
		run Receiver(1);
		run Receiver(2)
	}
}

/* Survivors make progress: every run ends with all members done
 * (checked with -a -f: under weak fairness, with acceptance cycles). */
ltl done { <> ended }
