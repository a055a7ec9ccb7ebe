using Chihaya.Orleans.Grains.Interfaces.Model;
using Orleans.Metadata;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// Makes <see cref="ITorrentGrain"/> references for the announce path. Orleans' <c>GetGrain&lt;T&gt;(string)</c> works
/// out the interface's grain type on every call, by reading attributes and formatting the type's name (measured with
/// perf under the bench's load: several percent of the gateway's CPU); here that is done once, and each reference is
/// the grain id made from the info hash's key bytes (40 lower-case hex characters, as <see cref="InfoHash.ToGrainKey"/>).
/// </summary>
public sealed class TorrentGrainReferences(IGrainFactory grains, GrainInterfaceTypeResolver interfaces)
{
    /// <summary>
    /// The torrent grain class's grain type. Named here, not looked up: a gateway in client mode learns which class
    /// implements an interface only from the cluster, once connected, and this is made before that.
    /// </summary>
    public const string GrainTypeName = "torrent";

    private static readonly GrainType TorrentGrainType = GrainType.Create(GrainTypeName);

    private readonly GrainInterfaceType _interfaceType = interfaces.GetGrainInterfaceType(typeof(ITorrentGrain));

    /// <summary>The swarm of <paramref name="infoHash"/>: the same grain as <c>GetGrain&lt;ITorrentGrain&gt;(infoHash.ToGrainKey())</c>.</summary>
    public ITorrentGrain For(InfoHash infoHash) =>
        (ITorrentGrain)grains.GetGrain(GrainId.Create(TorrentGrainType, new IdSpan(infoHash.ToGrainKeyUtf8())), _interfaceType);
}
