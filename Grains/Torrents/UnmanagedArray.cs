using System.Runtime.InteropServices;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// A resizable array of plain values kept outside the GC heap: a swarm's peers and its index. On the GC heap a
/// silo's resident memory was about twice the peers it held: every growth of a swarm's array leaves the old one to
/// the oldest generation, which keeps the room once swept and is seldom compacted (bench/README.md, 2026-11-28 11:10
/// and 2026-11-30). Here a growth is a <c>realloc</c>, in place when it can be, and memory given back is reused at once.
/// A struct inside the class that uses it (a swarm has three: a fifth of an idle swarm's objects were these), freed
/// by the swarm: by <see cref="Release"/> when its activation ends, or in its finalizer if that never comes; either way
/// only once nothing can reach it. Kept in a field and never copied (a copy would share the block). After
/// <see cref="Release"/> the array is empty, so a stray read throws instead of reading freed memory, and a stray write
/// allocates anew.
/// </summary>
internal unsafe struct UnmanagedArray<T>
    where T : unmanaged
{
    private T* _items;

    public int Length { readonly get; private set; }

    public readonly ref T this[int index]
    {
        get
        {
            // Bounds are checked as an array's would be: a wrong index must never touch memory outside the block.
            if ((uint)index >= (uint)Length)
            {
                ThrowOutOfRange(index);
            }

            return ref _items[index];
        }
    }

    /// <summary>Sets the length, keeping the values below both lengths; values added are zero.</summary>
    public void Resize(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0)
        {
            Release();
            return;
        }

        // Realloc throws OutOfMemoryException when it fails, and then the old block is still ours and unchanged.
        var items = (T*)NativeMemory.Realloc(_items, (nuint)length * (nuint)sizeof(T));
        if (length > Length)
        {
            new Span<T>(items + Length, length - Length).Clear();
        }

        _items = items;
        Length = length;
    }

    /// <summary>Sets every value to <paramref name="value"/>.</summary>
    public readonly void Fill(T value) => new Span<T>(_items, Length).Fill(value);

    /// <summary>Gives the memory back now; the array is empty afterwards.</summary>
    public void Release()
    {
        NativeMemory.Free(_items);
        _items = null;
        Length = 0;
    }

    private static void ThrowOutOfRange(int index) => throw new ArgumentOutOfRangeException(nameof(index), index, "outside the array");
}
