using System.Net;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Grains.Tests.Torrents;

public sealed class SwarmTests
{
    private const long Now = 1_800_000_000;
    private static readonly Multipliers Neutral = Multipliers.Neutral;

    private readonly Swarm _swarm = new(new Random(7));
    private readonly PeerSelection _selection = new();

    private static PeerId Id(int n)
    {
        var bytes = new byte[20];
        BitConverter.TryWriteBytes(bytes, n);
        return PeerId.Read(bytes);
    }

    private static PeerAnnounce Peer(int n, long left, long up = 0, long down = 0, AnnounceEvent ev = AnnounceEvent.None, long user = 1, string address = "10.0.0.1") =>
        new(Id(n), PeerEndpoint.From(IPAddress.Parse(address), 1000 + n), up, down, left, ev, user);

    private AnnounceCredit Announce(PeerAnnounce peer, int numWant = 50, long now = Now, Multipliers? multipliers = null)
    {
        _selection.Reset(numWant, withIds: true);
        return _swarm.Announce(peer, now, multipliers ?? Neutral, _selection);
    }

    private List<int> SelectedPorts()
    {
        var ids = _selection.Ids4ToArray()!;
        var peers = _selection.Peers4ToArray();
        return [.. Enumerable.Range(0, _selection.Count4).Select(i => (peers[(i * 6) + 4] << 8) | peers[(i * 6) + 5])];
    }

    [Fact]
    public void PeerEntry_Takes76Bytes()
    {
        // A swarm's memory is mostly its entries (bench/memory.sh): 96 bytes before the layout was packed.
        Assert.Equal(76, System.Runtime.CompilerServices.Unsafe.SizeOf<PeerEntry>());
    }

    [Fact]
    public void Announce_NeverReturnsTheAnnouncerItself()
    {
        for (var n = 0; n < 10; n++)
        {
            Announce(Peer(n, left: 100));
        }

        for (var round = 0; round < 20; round++)
        {
            Announce(Peer(3, left: 100));
            Assert.DoesNotContain(1003, SelectedPorts());
            Assert.Equal(9, SelectedPorts().Count);
        }
    }

    [Fact]
    public void Announce_Seeder_GetsLeechersOnly()
    {
        Announce(Peer(1, left: 0));
        Announce(Peer(2, left: 0));
        Announce(Peer(3, left: 10));
        Announce(Peer(4, left: 10));

        Announce(Peer(5, left: 0));

        Assert.Equal([1003, 1004], SelectedPorts().Order());
    }

    [Fact]
    public void Announce_PartialSeed_GetsLeechersOnly()
    {
        Announce(Peer(1, left: 0));
        Announce(Peer(2, left: 10));
        Announce(Peer(3, left: 10));

        // BEP 21: it has what it selected (left counts the pieces it did not) and downloads nothing more.
        Announce(Peer(4, left: 500, ev: AnnounceEvent.Paused));

        Assert.Equal([1002, 1003], SelectedPorts().Order());
    }

    [Fact]
    public void Announce_Leecher_GetsSeedersFirstThenLeechers()
    {
        for (var n = 0; n < 5; n++)
        {
            Announce(Peer(n, left: 0));
        }

        for (var n = 10; n < 20; n++)
        {
            Announce(Peer(n, left: 5));
        }

        Announce(Peer(99, left: 5), numWant: 7);

        var ports = SelectedPorts();
        Assert.Equal(7, ports.Count);
        Assert.All(ports.Take(5), port => Assert.InRange(port, 1000, 1004));
        Assert.All(ports.Skip(5), port => Assert.InRange(port, 1010, 1019));
    }

    [Fact]
    public void Announce_NumWant_LimitsAndSamplesRandomly()
    {
        for (var n = 0; n < 100; n++)
        {
            Announce(Peer(n, left: 0));
        }

        var seen = new HashSet<int>();
        for (var round = 0; round < 50; round++)
        {
            Announce(Peer(500, left: 1), numWant: 5);
            Assert.Equal(5, SelectedPorts().Count);
            seen.UnionWith(SelectedPorts());
        }

        Assert.True(seen.Count > 50, $"only {seen.Count} distinct peers handed out over 50 replies");
    }

    [Fact]
    public void Announce_NumWantZero_ReturnsNoPeers()
    {
        Announce(Peer(1, left: 0));

        Announce(Peer(2, left: 1), numWant: 0);

        Assert.Empty(SelectedPorts());
    }

    [Fact]
    public void Announce_IPv6Peer_IsPackedSeparately()
    {
        Announce(Peer(1, left: 0, address: "2001:db8::7"));
        Announce(Peer(2, left: 0));

        Announce(Peer(3, left: 1));

        Assert.Equal(1, _selection.Count4);
        Assert.Equal(1, _selection.Count6);
        var packed6 = _selection.Peers6ToArray();
        Assert.Equal(IPAddress.Parse("2001:db8::7").GetAddressBytes(), packed6[..16]);
        Assert.Equal(1001, (packed6[16] << 8) | packed6[17]);
    }

    [Fact]
    public void Announce_Stopped_RemovesPeerAndCreditsFinalTraffic()
    {
        Announce(Peer(1, left: 100, up: 0, down: 0, ev: AnnounceEvent.Started));
        Announce(Peer(2, left: 0));

        var credit = Announce(Peer(1, left: 40, up: 5, down: 60, ev: AnnounceEvent.Stopped));

        Assert.False(_swarm.Contains(Id(1), 1));
        Assert.Equal(0, _swarm.Leechers);
        Assert.Equal(1, _swarm.Seeders);
        Assert.Equal(5, credit.Traffic.RawUploaded);
        Assert.Equal(60, credit.Traffic.RawDownloaded);
    }

    [Fact]
    public void Announce_StoppedUnknownPeer_ChangesNothing()
    {
        var credit = Announce(Peer(1, left: 0, up: 500, ev: AnnounceEvent.Stopped));

        Assert.Equal(0, _swarm.Count);
        Assert.True(credit.Traffic.IsZero);
    }

    [Fact]
    public void Announce_FirstAnnounce_OnlySetsBaseline()
    {
        var credit = Announce(Peer(1, left: 10, up: 1000, down: 2000));

        Assert.True(credit.Traffic.IsZero);
    }

    [Fact]
    public void Announce_GrowingTotals_CreditsDeltas()
    {
        Announce(Peer(1, left: 100, up: 1000, down: 2000));

        var first = Announce(Peer(1, left: 50, up: 1500, down: 2050));
        var second = Announce(Peer(1, left: 20, up: 1600, down: 2080));

        Assert.Equal((500, 50), (first.Traffic.RawUploaded, first.Traffic.RawDownloaded));
        Assert.Equal((100, 30), (second.Traffic.RawUploaded, second.Traffic.RawDownloaded));
    }

    [Fact]
    public void Announce_TotalsGoDown_StartsNewBaselineWithoutCredit()
    {
        Announce(Peer(1, left: 100, up: 1000, down: 2000));

        var restart = Announce(Peer(1, left: 100, up: 10, down: 5000));
        var after = Announce(Peer(1, left: 100, up: 30, down: 5007));

        Assert.True(restart.Traffic.IsZero);
        Assert.Equal((20, 7), (after.Traffic.RawUploaded, after.Traffic.RawDownloaded));
    }

    [Fact]
    public void Announce_ReceivedBeforeTheLastApplied_ChangesNothing_SoALateTryCannotTakeTheTotalsBack()
    {
        Announce(Peer(1, left: 100, up: 1000) with { ReceivedAt = 10 });
        Announce(Peer(1, left: 100, up: 3000) with { ReceivedAt = 30 });

        // A try of the announce received at 20, held up and delivered after the one received at 30.
        var late = Announce(Peer(1, left: 100, up: 2000) with { ReceivedAt = 20 });
        var lateStop = Announce(Peer(1, left: 100, up: 2000, ev: AnnounceEvent.Stopped) with { ReceivedAt = 20 });
        var next = Announce(Peer(1, left: 100, up: 3500) with { ReceivedAt = 40 });
        var sameAgain = Announce(Peer(1, left: 100, up: 3500) with { ReceivedAt = 40 });

        Assert.True(late.Traffic.IsZero);
        Assert.True(lateStop.Traffic.IsZero);
        Assert.True(_swarm.Contains(Id(1), 1));
        Assert.Equal(500, next.Traffic.RawUploaded);
        Assert.True(sameAgain.Traffic.IsZero);
    }

    [Fact]
    public void Announce_ReceivedEarlierButReportingMore_CreditsNothing_AndThePeersNextAnnounceCreditsIt()
    {
        Announce(Peer(1, left: 100, up: 1000) with { ReceivedAt = 30 });

        var late = Announce(Peer(1, left: 100, up: 1500) with { ReceivedAt = 29 });
        var next = Announce(Peer(1, left: 100, up: 1600) with { ReceivedAt = 40 });

        Assert.True(late.Traffic.IsZero);
        Assert.Equal(600, next.Traffic.RawUploaded);
    }

    [Fact]
    public void Announce_LateTryArrivingAfterTheClientRestartedItsTotals_DoesNotCreditTheOldSessionAgain()
    {
        // A try of the announce at 20 s is held up (a silo cut off, the gateway retrying) while the client leaves and
        // starts again, its totals from zero (a torrent paused and resumed).
        Announce(Peer(1, left: 100, up: 10_000) with { ReceivedAt = 10 }, now: Now);
        var goodbye = Announce(Peer(1, left: 100, up: 10_100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 30 }, now: Now);
        Announce(Peer(1, left: 100, up: 0, ev: AnnounceEvent.Started) with { ReceivedAt = 40 }, now: Now);

        var late = Announce(Peer(1, left: 100, up: 10_100) with { ReceivedAt = 20 }, now: Now);
        var next = Announce(Peer(1, left: 100, up: 50) with { ReceivedAt = 50 }, now: Now);

        // Applied, the late try credited 10,100 bytes the first session had been credited already, and made the
        // session's next announce look like totals going back (crediting nothing).
        Assert.Equal(100, goodbye.Traffic.RawUploaded);
        Assert.True(late.Traffic.IsZero);
        Assert.Equal(50, next.Traffic.RawUploaded);
    }

    [Fact]
    public void Announce_LateTryOfAPeerThatLeft_DoesNotBringItBack_UntilTheDepartureIsForgotten()
    {
        Announce(Peer(1, left: 100, up: 1000) with { ReceivedAt = 10 }, now: Now);
        Announce(Peer(1, left: 100, up: 3000, ev: AnnounceEvent.Stopped) with { ReceivedAt = 30 }, now: Now);

        var late = Announce(Peer(1, left: 100, up: 2000) with { ReceivedAt = 20 }, now: Now);
        var stillGone = !_swarm.Contains(Id(1), 1);
        var departures = _swarm.CutChanges().Departed;
        var rejoined = Announce(Peer(1, left: 100, up: 3000, ev: AnnounceEvent.Started) with { ReceivedAt = 40 }, now: Now);
        var afterRejoin = Announce(Peer(1, left: 100, up: 3100) with { ReceivedAt = 50 }, now: Now);

        Assert.True(late.Traffic.IsZero);
        Assert.True(stillGone);
        Assert.Equal(30, Assert.Single(departures).ReceivedAt);
        Assert.True(rejoined.Traffic.IsZero);
        Assert.Equal(100, afterRejoin.Traffic.RawUploaded);
    }

    [Fact]
    public void CutChanges_APeerThatJoinedAgain_ForgetsItsStoredDeparture_UnlessItLeftOnceMore()
    {
        Announce(Peer(1, left: 100) with { ReceivedAt = 10 });
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 20 });
        Announce(Peer(2, left: 100) with { ReceivedAt = 10 });
        Announce(Peer(2, left: 100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 20 });
        _swarm.CutChanges();

        Announce(Peer(1, left: 100, ev: AnnounceEvent.Started) with { ReceivedAt = 30 });
        Announce(Peer(2, left: 100, ev: AnnounceEvent.Started) with { ReceivedAt = 30 });
        Announce(Peer(2, left: 100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 40 });
        var changes = _swarm.CutChanges();

        Assert.Equal(Id(1), Assert.Single(changes.Forgotten).PeerId);
        Assert.Equal(Id(2), Assert.Single(changes.Departed).Key.PeerId);
        Assert.Equal(Id(1), Assert.Single(changes.Present).Entry.PeerId);
    }

    [Fact]
    public void ForgetDepartures_DropsOnlyOldOnes_AndTheCutSaysWhichToDelete()
    {
        Announce(Peer(1, left: 100) with { ReceivedAt = 10 }, now: Now);
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 20 }, now: Now);
        Announce(Peer(2, left: 100) with { ReceivedAt = 10 }, now: Now + 100);
        Announce(Peer(2, left: 100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 20 }, now: Now + 100);
        _swarm.CutChanges();

        _swarm.ForgetDepartures(Now + 50);
        var changes = _swarm.CutChanges();
        var lateOfTheForgotten = Announce(Peer(1, left: 100) with { ReceivedAt = 15 }, now: Now + 200);
        var lateOfTheRemembered = Announce(Peer(2, left: 100) with { ReceivedAt = 15 }, now: Now + 200);

        Assert.Equal(Id(1), Assert.Single(changes.Forgotten).PeerId);
        Assert.Empty(changes.Departed);
        Assert.True(_swarm.Contains(Id(1), 1));
        Assert.False(_swarm.Contains(Id(2), 1));
        Assert.True(lateOfTheForgotten.Traffic.IsZero && lateOfTheRemembered.Traffic.IsZero);
    }

    [Fact]
    public void Join_OfAPeerWhoseDepartureWasForgottenSinceTheLastCut_TellsTheCutToForgetItsDeparture()
    {
        Announce(Peer(1, left: 100) with { ReceivedAt = 10 }, now: Now);
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Stopped) with { ReceivedAt = 20 }, now: Now);
        var departed = _swarm.CutChanges();

        _swarm.ForgetDepartures(Now + 50);
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Started) with { ReceivedAt = 30 }, now: Now + 60);
        var changes = _swarm.CutChanges();

        Assert.Equal(Id(1), Assert.Single(departed.Departed).Key.PeerId);
        Assert.Equal(Id(1), Assert.Single(changes.Present).Entry.PeerId);
        Assert.Equal(Id(1), Assert.Single(changes.Forgotten).PeerId);
    }

    [Fact]
    public void Announce_PeerIdReusedByAnotherUser_IsASeparatePeerAndLeavesTheOwnerAlone()
    {
        Announce(Peer(1, left: 100, up: 0, down: 0, user: 1));

        var stolen = Announce(Peer(1, left: 100, up: 900, down: 900, user: 2));
        var next = Announce(Peer(1, left: 100, up: 950, down: 900, user: 2));
        var owner = Announce(Peer(1, left: 100, up: 10, down: 10, user: 1));

        Assert.True(stolen.Traffic.IsZero);
        Assert.Equal(50, next.Traffic.RawUploaded);
        Assert.Equal((10, 10), (owner.Traffic.RawUploaded, owner.Traffic.RawDownloaded));
        Assert.Equal(2, _swarm.Count);
    }

    [Fact]
    public void Announce_StoppedWithAnotherUsersPeerId_ChangesNothing()
    {
        Announce(Peer(1, left: 0, up: 0, user: 1));

        var forged = Announce(Peer(1, left: 0, up: 999, ev: AnnounceEvent.Stopped, user: 2));
        var owner = Announce(Peer(1, left: 0, up: 40, user: 1));

        Assert.True(forged.Traffic.IsZero);
        Assert.True(_swarm.Contains(Id(1), 1));
        Assert.Equal(40, owner.Traffic.RawUploaded);
    }

    [Fact]
    public void Announce_RoleChange_NeverReturnsTheAnnouncerItself()
    {
        for (var n = 0; n < 6; n++)
        {
            Announce(Peer(n, left: n % 2));
        }

        for (var round = 0; round < 10; round++)
        {
            Announce(Peer(0, left: round % 2 == 0 ? 5 : 0));
            Assert.DoesNotContain(1000, SelectedPorts());
            Assert.True(_swarm.IsConsistent());
        }
    }

    [Fact]
    public void Announce_Multipliers_CreditRoundedDownPerAnnounce()
    {
        Announce(Peer(1, left: 100));

        var credit = Announce(Peer(1, left: 99, up: 3, down: 7), multipliers: new Multipliers(1.5m, 0.5m));

        Assert.Equal(3, credit.Traffic.RawUploaded);
        Assert.Equal(4, credit.Traffic.CreditedUploaded);
        Assert.Equal(7, credit.Traffic.RawDownloaded);
        Assert.Equal(3, credit.Traffic.CreditedDownloaded);
    }

    [Fact]
    public void Announce_Freeleech_CreditsNoDownloadButKeepsRaw()
    {
        Announce(Peer(1, left: 100));

        var credit = Announce(Peer(1, left: 0, up: 10, down: 100), multipliers: new Multipliers(2m, 0m));

        Assert.Equal(100, credit.Traffic.RawDownloaded);
        Assert.Equal(0, credit.Traffic.CreditedDownloaded);
        Assert.Equal(20, credit.Traffic.CreditedUploaded);
    }

    [Fact]
    public void Announce_CompletedEvent_CountsOneSnatchPerPeer()
    {
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Started));

        var completed = Announce(Peer(1, left: 0, ev: AnnounceEvent.Completed));
        var again = Announce(Peer(1, left: 0, ev: AnnounceEvent.Completed));

        Assert.True(completed.Snatched);
        Assert.False(again.Snatched);
        Assert.Equal(1, _swarm.Seeders);
        Assert.Equal(0, _swarm.Leechers);
    }

    [Fact]
    public void Announce_LeftReachesZeroWithoutCompleted_CountsSnatch()
    {
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Started));

        var finished = Announce(Peer(1, left: 0));

        Assert.True(finished.Snatched);
    }

    [Fact]
    public void Announce_LeftReachesZeroOnStopped_CountsSnatch()
    {
        Announce(Peer(1, left: 100, ev: AnnounceEvent.Started));

        var stopped = Announce(Peer(1, left: 0, ev: AnnounceEvent.Stopped));

        Assert.True(stopped.Snatched);
    }

    [Fact]
    public void Announce_SeederFromTheStart_IsNoSnatch()
    {
        var started = Announce(Peer(1, left: 0, ev: AnnounceEvent.Started));
        var regular = Announce(Peer(1, left: 0));

        Assert.False(started.Snatched);
        Assert.False(regular.Snatched);
    }

    [Fact]
    public void Announce_SeederBecomesLeecherAndFinishesAgain_IsStillOneSnatch()
    {
        Announce(Peer(1, left: 10));
        Assert.True(Announce(Peer(1, left: 0)).Snatched);

        Announce(Peer(1, left: 10));

        Assert.False(Announce(Peer(1, left: 0, ev: AnnounceEvent.Completed)).Snatched);
    }

    [Fact]
    public void Announce_OneUserCompletingWithFreshPeerIds_CountsOneSnatchForThatUser()
    {
        var first = Announce(Peer(1, left: 0, ev: AnnounceEvent.Completed, user: 1));
        var freshPeerId = Announce(Peer(2, left: 0, ev: AnnounceEvent.Completed, user: 1));
        Announce(Peer(3, left: 10, user: 1));
        var anotherPeerFinishing = Announce(Peer(3, left: 0, user: 1));
        var otherUser = Announce(Peer(4, left: 0, ev: AnnounceEvent.Completed, user: 2));

        Assert.True(first.Snatched);
        Assert.False(freshPeerId.Snatched);
        Assert.False(anotherPeerFinishing.Snatched);
        Assert.True(otherUser.Snatched);
    }

    [Fact]
    public void Announce_UserWhosePeerSnatchedAndLeft_CountsNoSecondSnatch()
    {
        Announce(Peer(1, left: 10, user: 1));
        var stopped = Announce(Peer(1, left: 0, ev: AnnounceEvent.Stopped, user: 1));

        var again = Announce(Peer(2, left: 0, ev: AnnounceEvent.Completed, user: 1));

        Assert.True(stopped.Snatched);
        Assert.False(again.Snatched);
    }

    [Fact]
    public void Restore_RemembersUsersWhoseRestoredPeersSnatched()
    {
        Announce(Peer(1, left: 10, user: 1));
        Announce(Peer(1, left: 0, user: 1));
        var restored = new Swarm(new Random(1));
        restored.Restore(_swarm.CutChanges().Present, []);

        _selection.Reset(50);
        var sameUser = restored.Announce(Peer(2, left: 0, ev: AnnounceEvent.Completed, user: 1), Now, Neutral, _selection);
        _selection.Reset(50);
        var otherUser = restored.Announce(Peer(3, left: 0, ev: AnnounceEvent.Completed, user: 2), Now, Neutral, _selection);

        Assert.False(sameUser.Snatched);
        Assert.True(otherUser.Snatched);
    }

    [Fact]
    public void RemoveSilentPeers_DropsOnlyPeersOlderThanCutoff()
    {
        Announce(Peer(1, left: 0), now: Now);
        Announce(Peer(2, left: 10), now: Now);
        Announce(Peer(3, left: 10), now: Now + 100);

        var removed = _swarm.RemoveSilentPeers(Now + 50);

        Assert.Equal(2, removed);
        Assert.False(_swarm.Contains(Id(1), 1));
        Assert.False(_swarm.Contains(Id(2), 1));
        Assert.True(_swarm.Contains(Id(3), 1));
        Assert.Equal(1, _swarm.Leechers);
    }

    [Fact]
    public void Announce_ManyJoinsAndLeaves_KeepsIndexConsistent()
    {
        var random = new Random(3);
        var present = new HashSet<int>();
        // 1,000 peers: 500 peer ids, each under two users, so the index must tell them apart by user too.
        static PeerAnnounce PeerOf(int n, long left, AnnounceEvent ev = AnnounceEvent.None) => Peer(n % 500, left, ev: ev, user: 1 + (n / 500));
        for (var step = 0; step < 20_000; step++)
        {
            var n = random.Next(1000);
            if (random.Next(4) == 0)
            {
                Announce(PeerOf(n, left: 0, ev: AnnounceEvent.Stopped));
                present.Remove(n);
            }
            else
            {
                Announce(PeerOf(n, left: random.Next(2)), now: Now + step);
                present.Add(n);
            }

            if (step % 5000 == 4999)
            {
                // Pruning everyone seen before this step exercises removal in bulk and shrinking.
                _swarm.RemoveSilentPeers(Now + step + 1);
                present.Clear();
            }

            Assert.Equal(present.Count, _swarm.Count);
            Assert.True(_swarm.IsConsistent(), $"index inconsistent at step {step}");
        }

        Assert.All(present, n => Assert.True(_swarm.Contains(Id(n % 500), 1 + (n / 500))));
        Assert.All(Enumerable.Range(0, 1000).Except(present), n => Assert.False(_swarm.Contains(Id(n % 500), 1 + (n / 500))));
    }

    [Fact]
    public void Announce_ManyPeersThenMostLeave_KeepsEveryPeerFoundAndTheIndexWhole()
    {
        // Growth by an eighth, then shrinking at half empty, over both lists and the index.
        for (var n = 0; n < 5000; n++)
        {
            Announce(Peer(n, left: n % 3 == 0 ? 0 : 10), numWant: 0);
        }

        for (var n = 0; n < 4990; n++)
        {
            Announce(Peer(n, left: 0, ev: AnnounceEvent.Stopped), numWant: 0);
        }

        Assert.Equal(10, _swarm.Count);
        Assert.True(_swarm.IsConsistent());
        Assert.All(Enumerable.Range(4990, 10), n => Assert.True(_swarm.Contains(Id(n), 1)));
        Announce(Peer(6000, left: 10));
        Assert.Equal(10, SelectedPorts().Count);
    }

    [Fact]
    public void Release_EmptiesTheSwarm_WhichTakesPeersAgain()
    {
        for (var n = 0; n < 40; n++)
        {
            Announce(Peer(n, left: n % 2));
        }

        _swarm.Release();

        Assert.Equal((0, 0, 0), (_swarm.Count, _swarm.Seeders, _swarm.Leechers));
        Assert.False(_swarm.Contains(Id(1), 1));
        Assert.True(_swarm.IsConsistent());
        Announce(Peer(1, left: 10));
        Announce(Peer(2, left: 0));
        Assert.Equal([1001], SelectedPorts());
        Assert.True(_swarm.IsConsistent());
    }

    [Fact]
    public void Announce_SeedingTime_CountsOnlyIntervalsSeededThroughout()
    {
        Announce(Peer(1, left: 10), now: Now);
        var finishing = Announce(Peer(1, left: 0), now: Now + 600);
        var seeding = Announce(Peer(1, left: 0), now: Now + 1800);
        var stopping = Announce(Peer(1, left: 0, ev: AnnounceEvent.Stopped), now: Now + 1900);

        Assert.Equal(0, finishing.SeedingSeconds);
        Assert.Equal(1200, seeding.SeedingSeconds);
        Assert.Equal(100, stopping.SeedingSeconds);
    }

    [Fact]
    public void Restore_OfStoredPeers_KeepsPeersRolesBaselinesAndSnatches()
    {
        Announce(Peer(1, left: 10, up: 100, down: 200, address: "2001:db8::5"));
        Announce(Peer(2, left: 0, up: 300, user: 2));
        Announce(Peer(3, left: 10));
        Announce(Peer(3, left: 0));   // finished: snatched

        var restored = new Swarm(new Random(1));
        restored.Restore(_swarm.CutChanges().Present, []);

        Assert.Equal((2, 1), (restored.Seeders, restored.Leechers));
        Assert.True(restored.IsConsistent());
        _selection.Reset(50, withIds: true);
        var next = restored.Announce(Peer(1, left: 5, up: 150, down: 210, address: "2001:db8::5"), Now, Neutral, _selection);
        Assert.Equal((50, 10), (next.Traffic.RawUploaded, next.Traffic.RawDownloaded));
        _selection.Reset(50);
        Assert.False(restored.Announce(Peer(3, left: 0, ev: AnnounceEvent.Completed), Now, Neutral, _selection).Snatched);
    }

    [Fact]
    public void CutChanges_HoldsChangedPeersAsTheyAreNow_AndDepartedOnes_ThenStartsAfresh()
    {
        Announce(Peer(1, left: 10, up: 100));
        Announce(Peer(2, left: 10));
        Announce(Peer(3, left: 10));
        _swarm.CutChanges();

        Announce(Peer(1, left: 0, up: 150));                       // changed: now a seeder with a new baseline
        Announce(Peer(2, left: 10, ev: AnnounceEvent.Stopped));    // departed
        Announce(Peer(4, left: 10));                               // joined
        _swarm.RemoveSilentPeers(Now - 1);                         // prunes nobody
        var changes = _swarm.CutChanges();

        Assert.Equal(2, changes.Present.Count);
        var finished = Assert.Single(changes.Present, p => p.Entry.PeerId == Id(1));
        Assert.True(finished.Seeder);
        Assert.Equal(150, finished.Entry.Uploaded);
        Assert.Contains(changes.Present, p => p.Entry.PeerId == Id(4));
        Assert.Equal(Id(2), Assert.Single(changes.Departed).Key.PeerId);
        Assert.False(_swarm.HasChanges);
        Assert.True(_swarm.CutChanges().IsEmpty);
    }

    [Fact]
    public void CutChanges_ForgetsSilentPeers_StoresNoneTwice_AndARestoredSwarmHasNothingToWrite()
    {
        Announce(Peer(1, left: 10), now: Now - 100);
        Announce(Peer(2, left: 10));
        Announce(Peer(2, left: 0, up: 10));                        // changed twice and moved to the seeders: stored once
        Assert.Equal(1, _swarm.RemoveSilentPeers(Now - 50));       // peer 1 is silent
        var changes = _swarm.CutChanges();

        var stored = Assert.Single(changes.Present);
        Assert.Equal((Id(2), true, false), (stored.Entry.PeerId, stored.Seeder, stored.Entry.IsChanged));
        Assert.Equal(Id(1), Assert.Single(changes.Forgotten).PeerId);
        Assert.Empty(changes.Departed);

        var restored = new Swarm(new Random(1));
        restored.Restore(changes.Present, []);
        Assert.False(restored.HasChanges);
        Assert.True(restored.CutChanges().IsEmpty);
    }
}
