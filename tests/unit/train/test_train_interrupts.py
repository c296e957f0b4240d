"""Ctrl-C during training: the first one asks for a graceful stop, the second interrupts at once."""

import os
import signal
import threading

import pytest

from ft_jupyter.train.cost import CostMeter
from ft_jupyter.train.interrupts import StopRequest, graceful_interrupts


def test_the_first_ctrl_c_sets_the_stop_flag_and_the_second_raises():
    stop = StopRequest()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), graceful_interrupts(stop):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.is_set() and "Ctrl-C" in stop.reason
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def test_sigterm_stops_gracefully_too():
    stop = StopRequest()
    with graceful_interrupts(stop):
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.is_set() and "SIGTERM" in stop.reason


def test_off_the_main_thread_nothing_is_installed():
    seen = []

    def body():
        with graceful_interrupts(StopRequest()):
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before]


def test_cost_is_device_hours_times_price_and_counts_earlier_sessions():
    meter = CostMeter(price_per_hour=2.0, devices=4, prior_hours=1.5)
    meter.started -= 1800  # half an hour on four devices
    assert meter.device_hours() == pytest.approx(3.5, abs=1e-3)
    assert meter.cost() == pytest.approx(7.0, abs=1e-2)
