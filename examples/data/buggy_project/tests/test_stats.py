import unittest

from stats import moving_average


class MovingAverageTest(unittest.TestCase):
    def test_every_window_is_averaged(self) -> None:
        self.assertEqual(moving_average([1, 2, 3, 4], 2), [1.5, 2.5, 3.5])

    def test_window_as_long_as_the_list(self) -> None:
        self.assertEqual(moving_average([2, 4], 2), [3.0])

    def test_bad_window(self) -> None:
        with self.assertRaises(ValueError):
            moving_average([1], 0)


if __name__ == "__main__":
    unittest.main()
