using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Grains.Tests.Torrents;

public sealed class UnmanagedArrayTests
{
    [Fact]
    public void Resize_KeepsValuesBelowBothLengths_AndAddsZeros()
    {
        var array = new UnmanagedArray<long>();
        array.Resize(3);
        for (var i = 0; i < 3; i++)
        {
            array[i] = i + 10;
        }

        array.Resize(1000);
        Assert.Equal([10L, 11, 12, 0, 0], Enumerable.Range(0, 5).Select(i => array[i]));
        Assert.Equal(0, array[999]);

        array.Resize(2);
        Assert.Equal([10L, 11], Enumerable.Range(0, 2).Select(i => array[i]));
        array.Release();
    }

    [Fact]
    public void Resize_AfterShrinking_AddsZerosNotWhatTheBlockHeldBefore()
    {
        // realloc shrinks in place and leaves the old bytes: growing again must not bring them back.
        var array = new UnmanagedArray<long>();
        array.Resize(64);
        array.Fill(7);
        array.Resize(1);

        array.Resize(64);

        Assert.Equal(7, array[0]);
        Assert.All(Enumerable.Range(1, 63), i => Assert.Equal(0, array[i]));
        array.Release();
    }

    [Fact]
    public void Index_OutsideTheArray_Throws_BeforeTouchingMemory()
    {
        var array = new UnmanagedArray<int>();
        Assert.Throws<ArgumentOutOfRangeException>(() => array[0]);
        array.Resize(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => array[4]);
        Assert.Throws<ArgumentOutOfRangeException>(() => array[-1]);
        array.Release();
    }

    [Fact]
    public void Release_LeavesItEmpty_AndUsableAgain()
    {
        var array = new UnmanagedArray<int>();
        array.Resize(8);
        array.Fill(7);

        array.Release();

        Assert.Equal(0, array.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => array[0]);
        array.Resize(2);
        Assert.Equal([0, 0], Enumerable.Range(0, 2).Select(i => array[i]));
        array.Release();
    }
}
