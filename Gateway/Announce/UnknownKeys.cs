using System.Collections.Concurrent;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>
/// Passkeys and info hashes the cluster just answered the site does not know, remembered by this gateway for
/// <see cref="GatewayOptions.UnknownKeyLifetime"/>, so a client that keeps announcing a removed account's passkey or
/// an unregistered torrent is refused again without a grain call. Only those two answers are kept: they depend on the
/// key alone. The price is staleness: a key the site registers meanwhile is still refused here until its entry ends,
/// as the site's change notices reach silos, not gateways.
/// Bounded: at most <see cref="Capacity"/> keys of each kind. A flood of distinct junk keys gains nothing from a cache,
/// so beyond that new keys are not remembered until a sweep of ended entries (at most one a second) makes room.
/// Timed by the monotonic clock: a wall clock stepped back must not make entries outlive their lifetime.
/// </summary>
internal sealed class UnknownKeys(IOptionsMonitor<GatewayOptions> options, TimeProvider time)
{
    /// <summary>Most keys of each kind remembered (about 70 bytes each).</summary>
    public const int Capacity = 65_536;

    private readonly KeyTable<UserKey> _passkeys = new(time);
    private readonly KeyTable<InfoHash> _infoHashes = new(time);

    /// <summary>The cluster answered a moment ago that no user has this passkey.</summary>
    public bool IsUnknownPasskey(UserKey user) => _passkeys.Contains(user);

    /// <summary>The cluster answered a moment ago that the site has no torrent with this info hash.</summary>
    public bool IsUnregistered(InfoHash infoHash) => _infoHashes.Contains(infoHash);

    /// <summary>Remembers the passkey as unknown; false when it was remembered already (an answer to a burst of announces).</summary>
    public bool RememberUnknownPasskey(UserKey user) => _passkeys.Add(user, options.CurrentValue.UnknownKeyLifetime);

    public void RememberUnregistered(InfoHash infoHash) => _infoHashes.Add(infoHash, options.CurrentValue.UnknownKeyLifetime);

    private sealed class KeyTable<TKey>(TimeProvider time)
        where TKey : notnull
    {
        // Key → when its entry ends (the time provider's timestamp).
        private readonly ConcurrentDictionary<TKey, long> _endsAt = new();

        // Kept beside the dictionary, whose own Count takes every lock: read on every announce, and 0 while no client
        // announces an unknown key, when the clock is not even read.
        private int _count;
        private readonly Lock _sweepGate = new();
        private long? _sweptAt;

        public bool Contains(TKey key)
        {
            if (Volatile.Read(ref _count) == 0 || !_endsAt.TryGetValue(key, out var endsAt))
            {
                return false;
            }

            if (endsAt > time.GetTimestamp())
            {
                return true;
            }

            Remove(key, endsAt);
            return false;
        }

        /// <summary>Adds or renews the key's entry; false when it renewed one (the key was remembered already).</summary>
        public bool Add(TKey key, TimeSpan lifetime)
        {
            if (lifetime <= TimeSpan.Zero)
            {
                return true;
            }

            var now = time.GetTimestamp();
            if (Volatile.Read(ref _count) >= Capacity && !TrySweep(now))
            {
                return true;
            }

            var endsAt = now + (long)(lifetime.TotalSeconds * time.TimestampFrequency);
            while (true)
            {
                // An entry removed between the read and the update is added again, and counted again.
                if (_endsAt.TryGetValue(key, out var current))
                {
                    if (_endsAt.TryUpdate(key, endsAt, current))
                    {
                        return current <= now;
                    }
                }
                else if (_endsAt.TryAdd(key, endsAt))
                {
                    Interlocked.Increment(ref _count);
                    return true;
                }
            }
        }

        private void Remove(TKey key, long endsAt)
        {
            // Only the entry read: one renewed meanwhile stays.
            if (_endsAt.TryRemove(KeyValuePair.Create(key, endsAt)))
            {
                Interlocked.Decrement(ref _count);
            }
        }

        /// <summary>Removes the ended entries, once a second at most; true when that made room.</summary>
        private bool TrySweep(long now)
        {
            lock (_sweepGate)
            {
                if (_sweptAt is { } sweptAt && now - sweptAt < time.TimestampFrequency)
                {
                    return false;
                }

                _sweptAt = now;
            }

            foreach (var (key, endsAt) in _endsAt)
            {
                if (endsAt <= now)
                {
                    Remove(key, endsAt);
                }
            }

            return Volatile.Read(ref _count) < Capacity;
        }
    }
}
