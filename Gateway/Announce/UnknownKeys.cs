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
/// </summary>
internal sealed class UnknownKeys(IOptionsMonitor<GatewayOptions> options, TimeProvider time)
{
    /// <summary>Most keys of each kind remembered (about 70 bytes each).</summary>
    public const int Capacity = 65_536;

    private readonly KeyTable<UserKey> _passkeys = new();
    private readonly KeyTable<InfoHash> _infoHashes = new();

    /// <summary>The cluster answered a moment ago that no user has this passkey.</summary>
    public bool IsUnknownPasskey(UserKey user) => _passkeys.Contains(user, time.GetUtcNow().UtcTicks);

    /// <summary>The cluster answered a moment ago that the site has no torrent with this info hash.</summary>
    public bool IsUnregistered(InfoHash infoHash) => _infoHashes.Contains(infoHash, time.GetUtcNow().UtcTicks);

    public void RememberUnknownPasskey(UserKey user) => Remember(_passkeys, user);

    public void RememberUnregistered(InfoHash infoHash) => Remember(_infoHashes, infoHash);

    private void Remember<TKey>(KeyTable<TKey> table, TKey key)
        where TKey : notnull
    {
        var lifetime = options.CurrentValue.UnknownKeyLifetime;
        if (lifetime > TimeSpan.Zero)
        {
            var now = time.GetUtcNow().UtcTicks;
            table.Add(key, now + lifetime.Ticks, now);
        }
    }

    private sealed class KeyTable<TKey>
        where TKey : notnull
    {
        private static readonly long SweepEvery = TimeSpan.FromSeconds(1).Ticks;

        // Key → when its entry ends (UTC ticks).
        private readonly ConcurrentDictionary<TKey, long> _endsAt = new();

        // Kept beside the dictionary, whose own Count takes every lock: read on every announce, it is 0 nearly always.
        private int _count;
        private long _sweptAt;

        public bool Contains(TKey key, long now)
        {
            if (Volatile.Read(ref _count) == 0 || !_endsAt.TryGetValue(key, out var endsAt))
            {
                return false;
            }

            if (endsAt > now)
            {
                return true;
            }

            Remove(key, endsAt);
            return false;
        }

        public void Add(TKey key, long endsAt, long now)
        {
            if (Volatile.Read(ref _count) >= Capacity && !TrySweep(now))
            {
                return;
            }

            if (_endsAt.TryAdd(key, endsAt))
            {
                Interlocked.Increment(ref _count);
            }
            else
            {
                _endsAt[key] = endsAt;
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
            var sweptAt = Volatile.Read(ref _sweptAt);
            if (now - sweptAt < SweepEvery || Interlocked.CompareExchange(ref _sweptAt, now, sweptAt) != sweptAt)
            {
                return false;
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
