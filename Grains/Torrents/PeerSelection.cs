using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// The peers picked for one reply, packed as they go onto the wire (BEP 23 / BEP 7 compact entries),
/// so the reply is copied as blocks. One instance per thread (<see cref="ForThisThread"/>) is reused by every swarm.
/// </summary>
internal sealed class PeerSelection
{
    [ThreadStatic]
    private static PeerSelection? _forThisThread;

    public const int IPv4EntrySize = 6;
    public const int IPv6EntrySize = 18;

    private byte[] _peers4 = new byte[IPv4EntrySize * 64];
    private byte[] _peers6 = new byte[IPv6EntrySize * 16];
    private byte[] _ids4 = [];
    private byte[] _ids6 = [];
    private int _wanted;
    private bool _withIds;

    /// <summary>
    /// This thread's selection. An announce fills it and copies the reply out of it in one synchronous turn, so no two
    /// swarms ever see each other's peers in it, and a swarm in memory holds no reply buffers of its own.
    /// </summary>
    public static PeerSelection ForThisThread => _forThisThread ??= new();

    public int Count4 { get; private set; }

    public int Count6 { get; private set; }

    public bool IsFull => Count4 + Count6 >= _wanted;

    /// <summary>Starts a new selection of at most <paramref name="wanted"/> peers.</summary>
    public void Reset(int wanted, bool withIds = false)
    {
        _wanted = Math.Max(0, wanted);
        _withIds = withIds;
        Count4 = 0;
        Count6 = 0;
    }

    public void Add(in PeerEntry peer)
    {
        if (peer.Endpoint.IsIPv4)
        {
            EnsureCapacity(ref _peers4, (Count4 + 1) * IPv4EntrySize);
            peer.Endpoint.WriteCompactIPv4(_peers4.AsSpan(Count4 * IPv4EntrySize));
            if (_withIds)
            {
                EnsureCapacity(ref _ids4, (Count4 + 1) * Bytes20.Length);
                peer.PeerId.Value.CopyTo(_ids4.AsSpan(Count4 * Bytes20.Length));
            }

            Count4++;
        }
        else
        {
            EnsureCapacity(ref _peers6, (Count6 + 1) * IPv6EntrySize);
            peer.Endpoint.WriteCompactIPv6(_peers6.AsSpan(Count6 * IPv6EntrySize));
            if (_withIds)
            {
                EnsureCapacity(ref _ids6, (Count6 + 1) * Bytes20.Length);
                peer.PeerId.Value.CopyTo(_ids6.AsSpan(Count6 * Bytes20.Length));
            }

            Count6++;
        }
    }

    public byte[] Peers4ToArray() => _peers4.AsSpan(0, Count4 * IPv4EntrySize).ToArray();

    public byte[] Peers6ToArray() => _peers6.AsSpan(0, Count6 * IPv6EntrySize).ToArray();

    public byte[]? Ids4ToArray() => _withIds ? _ids4.AsSpan(0, Count4 * Bytes20.Length).ToArray() : null;

    public byte[]? Ids6ToArray() => _withIds ? _ids6.AsSpan(0, Count6 * Bytes20.Length).ToArray() : null;

    private static void EnsureCapacity(ref byte[] buffer, int needed)
    {
        if (buffer.Length < needed)
        {
            Array.Resize(ref buffer, Math.Max(needed, buffer.Length * 2));
        }
    }
}
